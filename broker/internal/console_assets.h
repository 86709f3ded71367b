// The console's assets (broker/console/*), embedded at build time by broker/console/embed.py.
#pragma once

#include <cstddef>

namespace sb {

struct ConsoleAsset {
  const char* path;  // "/", "/console.js", ...
  const char* content_type;
  const unsigned char* data;
  size_t size;
};

extern const ConsoleAsset kConsoleAssets[];
extern const size_t kConsoleAssetCount;

}  // namespace sb
