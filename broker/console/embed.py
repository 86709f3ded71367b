#!/usr/bin/env python3
"""Embeds the console's assets in a C++ source file: embed.py OUT.cpp FILE...

index.html is served at "/", every other file at "/<name>". Bytes are written as hex, so
nothing in an asset can break out of the generated source."""
import os
import sys

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}


def main():
    out, files = sys.argv[1], sys.argv[2:]
    lines = ['#include "broker/internal/console_assets.h"', "", "namespace sb {", "namespace {"]
    entries = []
    for i, path in enumerate(files):
        name = os.path.basename(path)
        data = open(path, "rb").read()
        body = ",".join(str(b) for b in data)
        lines.append(f"const unsigned char kAsset{i}[] = {{{body}}};")
        url = "/" if name == "index.html" else "/" + name
        ctype = TYPES.get(os.path.splitext(name)[1], "application/octet-stream")
        entries.append(f'  {{"{url}", "{ctype}", kAsset{i}, {len(data)}}},')
    lines += ["}  // namespace", "", "const ConsoleAsset kConsoleAssets[] = {"]
    lines += entries
    lines += ["};", f"const size_t kConsoleAssetCount = {len(files)};", "", "}  // namespace sb", ""]
    with open(out, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
