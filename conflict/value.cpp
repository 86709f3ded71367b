#include "conflict/value.h"

namespace sb {

std::string ValueToString(const Value& v) {
  struct V {
    std::string operator()(const Null&) const { return "null"; }
    std::string operator()(const std::string& s) const {
      std::string out = "\"";
      for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      return out + "\"";
    }
    std::string operator()(int64_t i) const { return std::to_string(i); }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
  };
  return std::visit(V{}, v);
}

const char* ValueTypeName(const Value& v) {
  static const char* const kNames[] = {"null", "text", "integer", "boolean"};
  return kNames[v.index()];
}

}  // namespace sb
