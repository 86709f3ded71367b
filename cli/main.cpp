// switchboard: one binary, subcommands like git. Only main wires real clocks, sockets and
// stores into the libraries.
#include <iostream>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{
      "switchboard — federated directory sync and referral handoffs for anti-trafficking "
      "partner networks",
      "switchboard"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("switchboard 0.1.0"));
  int exit_code = 0;
  sb::cli::AddNetworkCommands(app, exit_code);
  sb::cli::AddAgentCommand(app, exit_code);
  sb::cli::AddDirCommand(app, exit_code);
  sb::cli::AddSimCommand(app, exit_code);
#if SB_BENCH
  sb::cli::AddBenchCommand(app, exit_code);
#endif
  sb::cli::AddDemoCommand(app, exit_code);
  sb::cli::AddReviewCommand(app, exit_code);
  sb::cli::AddMaintainerCommand(app, exit_code);
  sb::cli::AddReferCommand(app, exit_code);
  sb::cli::AddQuarantineCommand(app, exit_code);
  sb::cli::AddBackupCommands(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::Success&) {
    return 0;
  } catch (const CLI::ParseError& e) {
    // Unknown options, missing values, bad numbers: say what was wrong, show usage, exit 2.
    std::cerr << "switchboard: " << e.what() << "\n\n";
    const CLI::App* shown = &app;
    for (const CLI::App* sub = app.get_subcommands().empty() ? nullptr : app.get_subcommands()[0];
         sub != nullptr;
         sub = sub->get_subcommands().empty() ? nullptr : sub->get_subcommands()[0]) {
      shown = sub;
    }
    std::cerr << shown->help();
    return 2;
  }
  return exit_code;
}
