// Subcommands of the `switchboard` binary. Each Add*Command registers one subcommand on
// `app`; when the user picks it, its callback runs the command and stores the process exit
// status in `exit_code` (0 success, 1 failure, 2 usage error).
#pragma once

#include <CLI/CLI.hpp>

namespace sb::cli {

void AddSimCommand(CLI::App& app, int& exit_code);
void AddBenchCommand(CLI::App& app, int& exit_code);
void AddDemoCommand(CLI::App& app, int& exit_code);
void AddAgentCommand(CLI::App& app, int& exit_code);
void AddDirCommand(CLI::App& app, int& exit_code);
// `switchboard dir kinds`: the field table (cli/dir_kinds.cpp).
void AddDirKindsCommand(CLI::App& dir, int& exit_code);
// init, broker, enroll, status
void AddNetworkCommands(CLI::App& app, int& exit_code);
// review list|show|approve|reject|resolve (through the running broker's local API)
void AddReviewCommand(CLI::App& app, int& exit_code);
// maintainer add|list|remove (through the running broker's local API)
void AddMaintainerCommand(CLI::App& app, int& exit_code);
// refer send|list|show|accept|decline|start|complete|cancel|purge, audit verify|show
void AddReferCommand(CLI::App& app, int& exit_code);
// quarantine (what an agent or broker set aside, through its local API)
void AddQuarantineCommand(CLI::App& app, int& exit_code);
// backup, restore (store/backup.h)
void AddBackupCommands(CLI::App& app, int& exit_code);

}  // namespace sb::cli
