// The HSDS tabular form (agents/hsds_tabular.h, agents/csv.h, agents/tabular_source.h): CSV
// edge cases, the official description and example read, write -> read round trips through a
// folder and a real zip, and every kind of bad input refused with its clear error. The
// official files are read from ../shared/hsds (SB_HSDS_DIR, set by tests/agents/meson.build).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include "agents/csv.h"
#include "agents/hsds_tabular.h"
#include "base/files.h"
#include "testing/temp_dir.h"

namespace sb {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

std::string HsdsDir() {
  const char* dir = std::getenv("SB_HSDS_DIR");
  return dir == nullptr ? std::string() : std::string(dir);
}

json ReadJson(const std::string& file) {
  Result<std::string> text = ReadFile(file);
  EXPECT_TRUE(text.ok()) << file;
  return text.ok() ? json::parse(*text) : json();
}

// In the file's own order (the official property order matters).
nlohmann::ordered_json ReadOrderedJson(const std::string& file) {
  Result<std::string> text = ReadFile(file);
  EXPECT_TRUE(text.ok()) << file;
  return text.ok() ? nlohmann::ordered_json::parse(*text) : nlohmann::ordered_json();
}

void Write(const std::string& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
  ASSERT_TRUE(out.good()) << file;
}

// --- CSV ---

std::vector<std::vector<std::string>> ReadCsv(const std::string& text, Status* error = nullptr,
                                              CsvLimits limits = {}) {
  StringSource src(text);
  CsvReader reader(&src, limits);
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> cells;
  for (;;) {
    Result<bool> more = reader.Next(&cells);
    if (!more.ok()) {
      if (error != nullptr) *error = more.status();
      return rows;
    }
    if (!*more) return rows;
    rows.push_back(cells);
  }
}

using Rows = std::vector<std::vector<std::string>>;

TEST(Csv, QuotedCellsHoldCommasQuotesAndLineBreaks) {
  Rows rows =
      ReadCsv("id,text\r\n1,\"a, b\"\r\n2,\"say \"\"hi\"\"\"\r\n3,\"two\r\nlines\nhere\"\r\n");
  EXPECT_EQ(
      rows,
      (Rows{{"id", "text"}, {"1", "a, b"}, {"2", "say \"hi\""}, {"3", "two\r\nlines\nhere"}}));
}

TEST(Csv, LfCrLfAndCrLineEndsAByteOrderMarkAndNoFinalLineEnd) {
  EXPECT_EQ(ReadCsv("\xEF\xBB\xBFid,n\n1,2\r\n3,4\r5,6"),
            (Rows{{"id", "n"}, {"1", "2"}, {"3", "4"}, {"5", "6"}}));
  EXPECT_EQ(ReadCsv(""), Rows{});
  EXPECT_EQ(ReadCsv("\xEF\xBB"), (Rows{{"\xEF\xBB"}}));  // not a whole BOM: data
}

TEST(Csv, EmptyCellsAndAQuoteInsideAnUnquotedCell) {
  EXPECT_EQ(ReadCsv("a,,\"\",b\n12\" screen,x\n"),
            (Rows{{"a", "", "", "b"}, {"12\" screen", "x"}}));
}

TEST(Csv, AQuotedCellThatNeverClosesIsAnErrorNamingItsLine) {
  Status error;
  ReadCsv("id,text\n1,ok\n2,\"starts here\nand goes on\n3,x\n", &error);
  EXPECT_EQ(error.code(), Code::kInvalidArgument);
  EXPECT_NE(error.message().find("row 3"), std::string::npos) << error.message();
  EXPECT_NE(error.message().find("line 3"), std::string::npos) << error.message();
  EXPECT_NE(error.message().find("never closes"), std::string::npos) << error.message();
}

TEST(Csv, TextAfterAClosingQuoteIsAnError) {
  Status error;
  ReadCsv("id\n\"a\"b\n", &error);
  EXPECT_EQ(error.code(), Code::kInvalidArgument);
  EXPECT_NE(error.message().find("row 2"), std::string::npos) << error.message();
}

// A source of `size` bytes of 'x' that counts what it handed out.
class Endless : public ByteSource {
 public:
  explicit Endless(size_t size, std::string prefix) : size_(size), prefix_(std::move(prefix)) {}
  Result<size_t> Read(char* buf, size_t n) override {
    size_t k = 0;
    while (k < n && given_ < size_) {
      buf[k++] = given_ < prefix_.size() ? prefix_[given_] : 'x';
      ++given_;
    }
    return k;
  }
  size_t given() const { return given_; }

 private:
  size_t size_;
  std::string prefix_;
  size_t given_ = 0;
};

TEST(Csv, AHundredMegabyteCellIsRefusedAfterItsLimitNotReadWhole) {
  for (std::string prefix : {"id,text\n1,", "id,text\n1,\""}) {
    Endless src(size_t{100} << 20, prefix);
    CsvReader reader(&src, CsvLimits{});
    std::vector<std::string> cells;
    ASSERT_TRUE(reader.Next(&cells).ok());
    Result<bool> row = reader.Next(&cells);
    ASSERT_FALSE(row.ok());
    EXPECT_EQ(row.status().code(), Code::kResourceExhausted);
    EXPECT_NE(row.status().message().find("row 2, cell 2"), std::string::npos)
        << row.status().message();
    EXPECT_LT(src.given(), size_t{2} << 20);
  }
}

TEST(Csv, ARecordOfTooManyCellsIsRefused) {
  Status error;
  ReadCsv(std::string(5000, ','), &error);
  EXPECT_EQ(error.code(), Code::kResourceExhausted);
}

RC_GTEST_PROP(Csv, WhatIsWrittenReadsBackTheSame, (std::vector<std::vector<std::string>> rows)) {
  Rows expected;
  std::string text;
  for (auto& r : rows) {
    if (r.empty()) continue;  // a record has at least one cell
    AppendCsvRecord(r, &text);
    expected.push_back(r);
  }
  RC_ASSERT(ReadCsv(text) == expected);
}

// --- the official description and example ---

// The official files as a package: one CSV per file of examples/tabular.json, written cell by
// cell, and (with_package) a datapackage.json made of schema/compiled/tabular.json's items.
void WriteOfficialExample(const std::string& dir, bool with_package) {
  nlohmann::ordered_json example = ReadOrderedJson(HsdsDir() + "/examples/tabular.json");
  for (auto& [file, rows] : example.items()) {
    std::vector<std::string> header;
    for (auto& [k, v] : rows[0].items()) header.push_back(k);
    std::string text;
    AppendCsvRecord(header, &text);
    for (const auto& row : rows) {
      std::vector<std::string> cells;
      for (const std::string& h : header) {
        const nlohmann::ordered_json& v = row[h];
        cells.push_back(v.is_string() ? v.get<std::string>() : v.dump());
      }
      AppendCsvRecord(cells, &text);
    }
    Write(dir + "/" + file, text);
  }
  if (!with_package) return;
  nlohmann::ordered_json tabular = ReadOrderedJson(HsdsDir() + "/schema/compiled/tabular.json");
  nlohmann::ordered_json resources = nlohmann::ordered_json::array();
  for (auto& [kind, entry] : tabular["properties"].items()) {
    const nlohmann::ordered_json& item = entry["items"];
    nlohmann::ordered_json fields = nlohmann::ordered_json::array();
    for (auto& [name, property] : item["properties"].items()) fields.push_back(property);
    nlohmann::ordered_json resource = item["datapackage_metadata"];
    resource["name"] = item["name"];
    resource["path"] = item["path"];
    resource["schema"] = {{"fields", fields}};
    resources.push_back(resource);
  }
  Write(dir + "/datapackage.json", nlohmann::ordered_json{{"resources", resources}}.dump(2));
}

// What the reader must give for the example: each row's values, typed by the official schema
// (the example's location.external_identifier 10092008082 and organization_identifier.identifier
// 1234567 are numbers where the schema says string).
std::map<std::string, json> ExpectedExample() {
  json example = ReadJson(HsdsDir() + "/examples/tabular.json");
  std::map<std::string, json> out;  // id -> fields
  for (auto& [file, rows] : example.items()) {
    const TabularTable* table = nullptr;
    for (const TabularTable& t : TabularTables()) {
      if (file == t.file) table = &t;
    }
    EXPECT_NE(table, nullptr) << file;
    if (table == nullptr) continue;
    for (const json& row : rows) {
      json fields = json::object();
      for (auto& [k, v] : row.items()) {
        if (k == "id") continue;
        bool text = false;
        for (const TabularColumn& c : table->columns) text |= k == c.name && !c.number;
        fields[k] = v.is_number() && text ? json(v.dump()) : v;
      }
      out[row["id"].get<std::string>()] = fields;
    }
  }
  return out;
}

TEST(HsdsTabular, TheTablesAreTheOfficialDescription) {
  ASSERT_FALSE(HsdsDir().empty()) << "SB_HSDS_DIR is not set";
  nlohmann::ordered_json tabular = ReadOrderedJson(HsdsDir() + "/schema/compiled/tabular.json");
  ASSERT_EQ(tabular["properties"].size(), TabularTables().size());
  for (auto& [kind, entry] : tabular["properties"].items()) {
    const nlohmann::ordered_json& item = entry["items"];
    const TabularTable* t = TabularTableOf(kind);
    ASSERT_NE(t, nullptr) << kind;
    EXPECT_EQ(t->file, item["path"].get<std::string>());
    EXPECT_EQ(t - TabularTables().data() + 1, item["datapackage_metadata"]["order"].get<int>());
    std::set<std::string> required;
    for (const char* key : {"required", "tabular_required"}) {
      for (const auto& r : item.value(key, nlohmann::ordered_json::array())) {
        required.insert(r.get<std::string>());
      }
    }
    size_t i = 0;
    for (auto& [name, property] : item["properties"].items()) {
      if (property["type"] == "array") continue;
      ASSERT_LT(i, t->columns.size()) << kind;
      const TabularColumn& c = t->columns[i++];
      EXPECT_EQ(c.name, name) << kind;
      EXPECT_EQ(c.number, property["type"] == "number") << kind << "." << name;
      EXPECT_EQ(std::string(c.format), property.value("format", "")) << kind << "." << name;
      EXPECT_EQ(c.required, required.count(name) == 1) << kind << "." << name;
    }
    EXPECT_EQ(i, t->columns.size()) << kind;
  }
}

TEST(HsdsTabular, TheOfficialExampleReadsWithTheOfficialDescriptionAndWithout) {
  ASSERT_FALSE(HsdsDir().empty()) << "SB_HSDS_DIR is not set";
  std::map<std::string, json> expected = ExpectedExample();
  for (bool with_package : {true, false}) {
    testing::TempDir dir("sb-tabular");
    WriteOfficialExample(dir.path(), with_package);
    std::vector<ImportProblem> problems;
    Result<std::vector<HsdsObject>> objects = ReadTabular(dir.path(), &problems);
    ASSERT_TRUE(objects.ok()) << objects.status().ToString();
    EXPECT_TRUE(problems.empty()) << problems[0].where << ": " << problems[0].error;
    ASSERT_EQ(objects->size(), expected.size());
    std::set<std::string> kinds;
    for (const HsdsObject& o : *objects) {
      kinds.insert(o.kind);
      ASSERT_EQ(expected.count(o.id), 1u) << o.id;
      EXPECT_EQ(o.fields, expected[o.id]) << o.where;
      EXPECT_EQ(o.where.find(TabularTableOf(o.kind)->file), 0u) << o.where;
      EXPECT_NE(o.where.find(" row 2"), std::string::npos) << o.where;
    }
    EXPECT_EQ(kinds.size(), 21u);
    // Parents come first: the official order.
    EXPECT_EQ((*objects)[0].kind, "organization");
    EXPECT_EQ((*objects)[0].fields["year_incorporated"], json(2011));
  }
}

// --- round trips ---

std::vector<HsdsObject> Sample() {
  std::map<std::string, json> example = ExpectedExample();
  json tabular = ReadJson(HsdsDir() + "/examples/tabular.json");
  std::vector<HsdsObject> out;
  for (const TabularTable& t : TabularTables()) {
    for (const json& row : tabular[t.file]) {
      HsdsObject o;
      o.kind = t.kind;
      o.id = row["id"].get<std::string>();
      o.fields = example[o.id];
      out.push_back(o);
    }
  }
  // Additional properties of every type, text that needs quoting, numbers that are not
  // integers, the iCal byday text, a second service.
  out[0].fields["countries_served"] = {"GB", "IE"};
  out[0].fields["x_note"] = "line one\r\nline two, with \"quotes\" and ünïcödé";
  out[0].fields["x_mixed"] = "12";
  HsdsObject org2;
  org2.kind = "organization";
  org2.id = "0b6f6e5e-9d3a-4c3e-8f7a-2a4a1c9e0003";
  org2.fields = {{"name", "Second"}, {"description", "Another"}, {"x_mixed", 12}};
  out.insert(out.begin() + 1, org2);
  HsdsObject service;
  service.kind = "service";
  service.id = "0b6f6e5e-9d3a-4c3e-8f7a-2a4a1c9e0001";
  service.fields = {{"organization_id", out[0].id},
                    {"name", " leading and trailing spaces "},
                    {"status", "active"},
                    {"minimum_age", 16.5},
                    {"maximum_age", 1e20},
                    {"available_24_7", true},
                    {"capacities",
                     {{{"id", "0b6f6e5e-9d3a-4c3e-8f7a-2a4a1c9e0002"},
                       {"unit", "Bed"},
                       {"available", 3},
                       {"maximum", 10}}}},
                    {"x_mixed", 12},
                    {"x_weight", 0.25},
                    {"x_count", -7},
                    {"x_object", {{"a", {1, 2, {{"b", nullptr}}}}}}};
  out.push_back(service);
  for (HsdsObject& o : out) {
    if (o.kind == "schedule") o.fields["byday"] = "2MO,-1FR";
    if (o.kind == "location") o.fields["latitude"] = -51.125;
  }
  return out;
}

// Objects as the reader gives them, keyed by kind and id (its `where` aside).
std::map<std::string, json> Keyed(const std::vector<HsdsObject>& objects) {
  std::map<std::string, json> out;
  for (const HsdsObject& o : objects) {
    EXPECT_EQ(out.count(o.kind + " " + o.id), 0u) << o.kind << " " << o.id;
    out[o.kind + " " + o.id] = o.fields;
  }
  return out;
}

TEST(HsdsTabular, WriteThenReadGivesTheSameObjectsTypesIncluded) {
  testing::TempDir dir("sb-tabular");
  std::vector<HsdsObject> objects = Sample();
  ASSERT_TRUE(WriteTabular(objects, dir / "out").ok());
  std::vector<ImportProblem> problems;
  Result<std::vector<HsdsObject>> back = ReadTabular(dir / "out", &problems);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(problems.empty()) << problems[0].where << ": " << problems[0].error;
  EXPECT_EQ(Keyed(*back), Keyed(objects));
  // Typed as they were: a mixed column keeps "12" text in one row and 12 in another.
  std::map<std::string, json> keyed = Keyed(*back);
  EXPECT_TRUE(keyed["organization 0b6f6e5e-9d3a-4c3e-8f7a-2a4a1c9e0003"]["x_mixed"].is_number());
  EXPECT_TRUE(keyed["service 0b6f6e5e-9d3a-4c3e-8f7a-2a4a1c9e0001"]["x_mixed"].is_number());
  EXPECT_TRUE(keyed["organization " + objects[0].id]["x_mixed"].is_string());
}

TEST(HsdsTabular, TheExportIsAFrictionlessPackageOf0644FilesInTheOfficialShape) {
  testing::TempDir dir("sb-tabular");
  ASSERT_TRUE(WriteTabular(Sample(), dir / "out").ok());
  struct stat st;
  ASSERT_EQ(::stat((dir / "out").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(dir / "out")) {
    ++files;
    ASSERT_EQ(::stat(e.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0644u) << e.path();
  }
  EXPECT_EQ(files, 22u);  // 21 tables and datapackage.json
  json package = ReadJson(dir / "out/datapackage.json");
  EXPECT_EQ(package["profile"], "tabular-data-package");
  ASSERT_EQ(package["resources"].size(), 21u);
  const json& organizations = package["resources"][0];
  EXPECT_EQ(organizations["name"], "organization");
  EXPECT_EQ(organizations["path"], "organizations.csv");
  EXPECT_EQ(organizations["schema"]["primaryKey"], "id");
  const json& f = organizations["schema"]["fields"];
  EXPECT_EQ(f[0], json({{"name", "id"},
                        {"type", "string"},
                        {"format", "uuid"},
                        {"constraints", {{"required", true}}}}));
  EXPECT_EQ(f[8]["name"], "year_incorporated");
  EXPECT_EQ(f[8]["type"], "number");
  // The additional properties follow the official columns, in name order, with their types.
  EXPECT_EQ(f[13], json({{"name", "countries_served"}, {"type", "array"}}));
  EXPECT_EQ(f[14], json({{"name", "x_mixed"}, {"type", "any"}}));
  EXPECT_EQ(f[15], json({{"name", "x_note"}, {"type", "string"}}));
  Result<std::string> csv = ReadFile(dir / "out/organizations.csv");
  ASSERT_TRUE(csv.ok());
  EXPECT_EQ(csv->substr(0, csv->find("\r\n")),
            "id,name,alternate_name,description,email,website,tax_status,tax_id,"
            "year_incorporated,legal_status,logo,uri,parent_organization_id,countries_served,"
            "x_mixed,x_note");
}

TEST(HsdsTabular, AnExistingFolderIsNotOverwrittenAndBadObjectsWriteNothing) {
  testing::TempDir dir("sb-tabular");
  fs::create_directory(dir / "out");
  Write(dir / "out/mine.txt", "keep");
  Status s = WriteTabular(Sample(), dir / "out");
  EXPECT_EQ(s.code(), Code::kAlreadyExists) << s.ToString();
  EXPECT_TRUE(fs::exists(dir / "out/mine.txt"));
  EXPECT_FALSE(fs::exists(dir / "out/organizations.csv"));

  std::vector<HsdsObject> bad = Sample();
  bad[2].fields["phones"] = json::array({{{"id", "x"}}});
  bad[2].kind = "service";
  s = WriteTabular(bad, dir / "new");
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  bad = Sample();
  bad[1].kind = "widget";
  EXPECT_EQ(WriteTabular(bad, dir / "new").code(), Code::kInvalidArgument);
  bad = Sample();
  bad[1].id.clear();
  EXPECT_EQ(WriteTabular(bad, dir / "new").code(), Code::kInvalidArgument);
  EXPECT_FALSE(fs::exists(dir / "new"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()),
            1);  // no temp
  // An empty folder is filled; a trailing slash names the same folder.
  fs::create_directory(dir / "empty");
  EXPECT_TRUE(WriteTabular(Sample(), dir / "empty/").ok());
  EXPECT_TRUE(fs::exists(dir / "empty/datapackage.json"));
  EXPECT_TRUE(WriteTabular(Sample(), dir / "new/").ok());
  EXPECT_TRUE(fs::exists(dir / "new/datapackage.json"));
}

// --- zips ---

struct ZipEntry {
  std::string name;
  std::string data;
  bool symlink = false;
};

void MakeZip(const std::string& file, const std::vector<ZipEntry>& entries) {
  int err = 0;
  zip_t* z = zip_open(file.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_NE(z, nullptr);
  for (const ZipEntry& e : entries) {
    zip_source_t* src = zip_source_buffer(z, e.data.data(), e.data.size(), 0);
    ASSERT_NE(src, nullptr);
    zip_int64_t i = zip_file_add(z, e.name.c_str(), src, ZIP_FL_ENC_UTF_8);
    ASSERT_GE(i, 0) << zip_strerror(z);
    if (e.symlink) {
      ASSERT_EQ(zip_file_set_external_attributes(z, static_cast<zip_uint64_t>(i), 0, ZIP_OPSYS_UNIX,
                                                 (S_IFLNK | 0777u) << 16),
                0);
    }
  }
  ASSERT_EQ(zip_close(z), 0);
}

std::vector<ZipEntry> EntriesOf(const std::string& dir, const std::string& prefix) {
  std::vector<ZipEntry> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    Result<std::string> data = ReadFile(e.path().string());
    EXPECT_TRUE(data.ok());
    out.push_back({prefix + e.path().filename().string(), *data});
  }
  return out;
}

TEST(HsdsTabular, ARealZipRoundTripsWithOrWithoutATopFolder) {
  testing::TempDir dir("sb-tabular");
  std::vector<HsdsObject> objects = Sample();
  ASSERT_TRUE(WriteTabular(objects, dir / "out").ok());
  for (std::string prefix : {"", "hsds-export/"}) {
    MakeZip(dir / "package.zip", EntriesOf(dir / "out", prefix));
    std::vector<ImportProblem> problems;
    Result<std::vector<HsdsObject>> back = ReadTabular(dir / "package.zip", &problems);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_TRUE(problems.empty());
    EXPECT_EQ(Keyed(*back), Keyed(objects));
  }
}

TEST(HsdsTabular, AZipMadeInMemoryAndAPackedFolderReadAsTheFolderDoes) {
  testing::TempDir dir("sb-tabular");
  std::vector<HsdsObject> objects = Sample();
  Result<std::string> zip = TabularZip(objects);
  ASSERT_TRUE(zip.ok()) << zip.status().ToString();
  std::vector<ImportProblem> problems;
  Result<std::vector<HsdsObject>> back = ReadTabularZip(*zip, &problems);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(Keyed(*back), Keyed(objects));
  EXPECT_EQ((*back)[0].where, "organizations.csv row 2");

  // The official example, packed as its files are (no datapackage.json), then read.
  fs::create_directory(dir / "example");
  WriteOfficialExample(dir / "example", false);
  Result<std::string> packed = PackTabular(dir / "example");
  ASSERT_TRUE(packed.ok()) << packed.status().ToString();
  Result<std::vector<HsdsObject>> from_folder = ReadTabular(dir / "example", &problems);
  Result<std::vector<HsdsObject>> from_zip = ReadTabularZip(*packed, &problems);
  ASSERT_TRUE(from_folder.ok() && from_zip.ok());
  EXPECT_EQ(Keyed(*from_zip), Keyed(*from_folder));
  EXPECT_TRUE(problems.empty());

  // A zip file is sent as it is; a folder with a link is refused before anything is packed.
  Write(dir / "x.zip", *zip);
  EXPECT_EQ(PackTabular(dir / "x.zip").value(), *zip);
  fs::create_symlink("/etc/passwd", dir / "example/notes.csv");
  EXPECT_EQ(PackTabular(dir / "example").status().code(), Code::kInvalidArgument);
  Result<std::vector<HsdsObject>> junk = ReadTabularZip("not a zip", &problems);
  ASSERT_FALSE(junk.ok());
  EXPECT_NE(junk.status().message().find("the upload: not a folder or a readable zip"),
            std::string::npos)
      << junk.status().ToString();
}

// Random UTF-8 text, never empty, made of the pieces CSV and JSON must get right.
rc::Gen<std::string> Text() {
  static const std::vector<std::string> kPieces = {"a",  "Z",  "0",    " ",    ",", "\"",
                                                   "\n", "\r", "\r\n", "[",    "{", "é",
                                                   "€",  "😀",  "\t",   "null", "12"};
  return rc::gen::map(
      rc::gen::nonEmpty(rc::gen::container<std::vector<std::string>>(rc::gen::elementOf(kPieces))),
      [](const std::vector<std::string>& parts) {
        std::string out;
        for (const std::string& p : parts) out += p;
        return out;
      });
}

// A random value of an additional property: text, integer, number, boolean, list, object.
rc::Gen<json> ExtraValue() {
  return rc::gen::oneOf(
      rc::gen::map(Text(), [](std::string t) { return json(t); }),
      rc::gen::map(rc::gen::arbitrary<int64_t>(), [](int64_t i) { return json(i); }),
      rc::gen::map(rc::gen::inRange(-1000000, 1000000),
                   [](int i) { return json(static_cast<double>(i) / 64.0 + 0.5); }),
      rc::gen::map(rc::gen::arbitrary<bool>(), [](bool b) { return json(b); }),
      rc::gen::map(rc::gen::container<std::vector<std::string>>(Text()),
                   [](const std::vector<std::string>& v) { return json(v); }),
      rc::gen::map(Text(), [](std::string t) {
        return json{{"k", t}, {"n", {1, nullptr}}};
      }));
}

RC_GTEST_PROP(HsdsTabular, AnyObjectsWrittenReadBackTheSame, ()) {
  size_t n = *rc::gen::inRange<size_t>(1, 6);
  std::vector<HsdsObject> objects;
  for (size_t i = 0; i < n; ++i) {
    HsdsObject o;
    o.kind = *rc::gen::elementOf(std::vector<std::string>{"organization", "service", "location"});
    o.id = "0b6f6e5e-9d3a-4c3e-8f7a-" + std::to_string(100000000000 + i);
    o.fields["name"] = *Text();  // name, description, status, location_type: required
    if (o.kind != "location") o.fields["description"] = *Text();
    if (o.kind == "service") o.fields["status"] = "active";
    if (o.kind == "location") o.fields["location_type"] = "physical";
    if (o.kind == "location") {
      o.fields["latitude"] = *rc::gen::inRange(-90, 90) + 0.25;
      o.fields["byday"] = "not a column of location";  // an additional property here
    }
    if (o.kind == "service") o.fields["minimum_age"] = *rc::gen::inRange(0, 150);
    for (const char* extra : {"x_a", "x_b", "x_c"}) {
      if (*rc::gen::arbitrary<bool>()) o.fields[extra] = *ExtraValue();
    }
    objects.push_back(o);
  }
  Result<std::string> zip = TabularZip(objects);
  RC_ASSERT(zip.ok());
  std::vector<ImportProblem> problems;
  Result<std::vector<HsdsObject>> back = ReadTabularZip(*zip, &problems);
  RC_ASSERT(back.ok());
  RC_ASSERT(problems.empty());
  std::map<std::string, json> want = Keyed(objects), got = Keyed(*back);
  for (auto& [key, fields] : want) {
    RC_ASSERT(got.count(key) == 1u);
    for (auto& [name, value] : fields.items()) {
      // Equal as JSON, and of the same JSON type (a number stays a number, text stays text).
      const json& g = got[key][name];
      if (g != value || g.is_string() != value.is_string() || g.is_number() != value.is_number()) {
        RC_FAIL(key + " " + name + ": read " + g.dump() + ", wrote " + value.dump());
      }
    }
    RC_ASSERT(got[key].size() == fields.size());
  }
}

Status ReadError(const std::string& path, TabularReadOptions options = {}) {
  std::vector<ImportProblem> problems;
  Result<std::vector<HsdsObject>> r = ReadTabular(path, &problems, options);
  EXPECT_FALSE(r.ok()) << path;
  return r.ok() ? Status::Ok() : r.status();
}

void ExpectError(const Status& s, Code code, const std::string& words) {
  EXPECT_EQ(s.code(), code) << s.ToString();
  EXPECT_NE(s.message().find(words), std::string::npos) << s.ToString();
}

const char kOrgs[] = "id,name,description\r\nd9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610,Org,About\r\n";

TEST(HsdsTabular, AZipBombIsRefusedBeforeAnythingIsUnpacked) {
  testing::TempDir dir("sb-tabular");
  MakeZip(dir / "bomb.zip",
          {{"organizations.csv", kOrgs}, {"services.csv", std::string(size_t{50} << 20, '0')}});
  ExpectError(ReadError(dir / "bomb.zip"), Code::kResourceExhausted, "zip bomb");
  std::vector<ImportProblem> problems;
  Result<std::string> bomb = ReadFile(dir / "bomb.zip");
  ASSERT_TRUE(bomb.ok());
  EXPECT_EQ(ReadTabularZip(*bomb, &problems).status().code(), Code::kResourceExhausted);
  // The total: what the entries declare, and then what they really unpack to.
  MakeZip(dir / "big.zip", {{"organizations.csv", kOrgs}});
  TabularReadOptions small;
  small.limits.max_total_bytes = 20;
  ExpectError(ReadError(dir / "big.zip", small), Code::kResourceExhausted, "more than");
  fs::create_directory(dir / "folder");
  Write(dir / "folder/organizations.csv", kOrgs);
  ExpectError(ReadError(dir / "folder", small), Code::kResourceExhausted, "more than");
}

TEST(HsdsTabular, ZipEntriesThatEscapeTheFolderOrAreLinksAreRefused) {
  testing::TempDir dir("sb-tabular");
  for (std::string name : {"../organizations.csv", "/organizations.csv", "a/../../x.csv",
                           "a\\..\\organizations.csv"}) {
    MakeZip(dir / "evil.zip", {{"organizations.csv", kOrgs}, {name, kOrgs}});
    ExpectError(ReadError(dir / "evil.zip"), Code::kInvalidArgument, "has ");
  }
  MakeZip(dir / "link.zip", {{"organizations.csv", "/etc/passwd", true}});
  ExpectError(ReadError(dir / "link.zip"), Code::kInvalidArgument, "symbolic link");
  Write(dir / "not.zip", "PK\x03\x04 this is no zip");
  ExpectError(ReadError(dir / "not.zip"), Code::kInvalidArgument, "not a folder or a readable zip");
}

// --- bad input in a folder ---

class BadTabular : public ::testing::Test {
 protected:
  // A folder holding organizations.csv = `orgs`, and the other files given.
  std::string Folder(const std::string& orgs, std::map<std::string, std::string> more = {}) {
    std::string d = dir_ / ("case" + std::to_string(++n_));
    fs::create_directory(d);
    Write(d + "/organizations.csv", orgs);
    for (auto& [name, text] : more) Write(d + "/" + name, text);
    return d;
  }
  testing::TempDir dir_{"sb-tabular"};
  int n_ = 0;
};

TEST_F(BadTabular, AHeaderWithoutIdOrWithAColumnTwiceOrAnUnnamedColumnIsRefused) {
  ExpectError(ReadError(Folder("name,description\r\nOrg,About\r\n")), Code::kInvalidArgument,
              "organizations.csv header: no \"id\" column");
  ExpectError(ReadError(Folder("id,name,name\r\n")), Code::kInvalidArgument,
              "column 3: \"name\" appears twice");
  ExpectError(ReadError(Folder("id,name,\r\n")), Code::kInvalidArgument, "column 3: has no name");
  ExpectError(ReadError(Folder("id,Name (official)\r\n")), Code::kInvalidArgument,
              "\"Name (official)\" is not a property of organization");
  ExpectError(ReadError(Folder("id,name,phones\r\n")), Code::kInvalidArgument,
              "\"phones\" holds nested objects");
  ExpectError(ReadError(Folder("")), Code::kInvalidArgument, "empty (no header row)");
}

TEST_F(BadTabular, AnEmptyCellIsAbsentExceptTheEmptyTextOfARequiredTextColumn) {
  std::vector<ImportProblem> problems;
  Result<std::vector<HsdsObject>> r = ReadTabular(
      Folder(kOrgs, {{"addresses.csv",
                      "id,location_id,address_1,address_2,city,state_province,postal_code,"
                      "country,address_type\r\n"
                      "74706e55-df26-4b84-80fe-ecc30b5befb4,,1 Main St,,Lagos,,100001,NG,"
                      "physical\r\n"}}),
      &problems);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  // address_2 (optional) and location_id (a required-in-tabular uuid link) are absent;
  // state_province (required text) is "".
  EXPECT_EQ((*r)[1].fields, json({{"address_1", "1 Main St"},
                                  {"city", "Lagos"},
                                  {"state_province", ""},
                                  {"postal_code", "100001"},
                                  {"country", "NG"},
                                  {"address_type", "physical"}}));
}

TEST_F(BadTabular, ImportCountsARowLeftOutOnceAndRefusesAllUnlessSkipInvalid) {
  std::string d = Folder(kOrgs, {{"services.csv",
                                  "id,organization_id,name,status,minimum_age,maximum_age\r\n"
                                  "0b6f6e5e-9d3a-4c3e-8f7a-2a4a1c9e0001,"
                                  "d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610,S,active,x,y\r\n"
                                  "0b6f6e5e-9d3a-4c3e-8f7a-2a4a1c9e0002,"
                                  "d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610,T,active,12,99\r\n"},
                                 {"metadata.csv",
                                  "id,resource_id\r\n"
                                  "6cd71e9f-1013-49d9-8370-26b8f59d3e5a,"
                                  "d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610\r\n"}});
  HsdsImportOptions options;
  Result<HsdsImportResult> all = ImportTabular(FieldSchema::Hsds(), d, options);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_TRUE(all->edits.empty());
  ASSERT_EQ(all->problems.size(), 2u);
  EXPECT_EQ(all->problems[0].where, "services.csv row 2 column minimum_age");
  EXPECT_EQ(all->problems[1].where, "services.csv row 2 column maximum_age");
  options.skip_invalid = true;
  Result<HsdsImportResult> some = ImportTabular(FieldSchema::Hsds(), d, options);
  ASSERT_TRUE(some.ok()) << some.status().ToString();
  EXPECT_EQ(some->skipped, 1u);
  ASSERT_EQ(some->edits.size(), 2u);  // the organization and service T; metadata is no record
  EXPECT_EQ(some->edits[1].id, "0b6f6e5e-9d3a-4c3e-8f7a-2a4a1c9e0002");
}

TEST_F(BadTabular, AnUnknownSnakeCaseColumnIsAnAdditionalProperty) {
  std::vector<ImportProblem> problems;
  Result<std::vector<HsdsObject>> r =
      ReadTabular(Folder("id,name,x_region_code\r\nd9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610,Org,"
                         "0042\r\n"),
                  &problems);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].fields, json({{"name", "Org"}, {"x_region_code", "0042"}}));
}

TEST_F(BadTabular, ATruncatedQuoteOrAHugeCellIsRefusedWithTheFileNamed) {
  ExpectError(ReadError(Folder("id,name\r\nd9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610,\"Org\r\n")),
              Code::kInvalidArgument,
              "organizations.csv: row 2: a quoted cell (cell 2, opened on line 2) never closes");
  std::string d = Folder(kOrgs);
  {
    std::ofstream out(d + "/services.csv", std::ios::binary);
    out << "id,name,description\r\n0b6f6e5e-9d3a-4c3e-8f7a-2a4a1c9e0001,S,";
    std::string chunk(size_t{1} << 20, 'x');
    for (int i = 0; i < 100; ++i) out << chunk;  // a 100 MB cell
  }
  ExpectError(ReadError(d), Code::kResourceExhausted,
              "services.csv: row 2, cell 3: longer than 1048576 bytes");
}

TEST_F(BadTabular, BadCellsAreProblemsNamingFileRowAndColumnAndTheRowIsLeftOut) {
  std::string locations =
      "id,location_type,latitude,longitude,x_flag\r\n"
      "3a19ff88-4620-4d17-9830-ac1d859eb5d5,physical,51.5,-0.12,\r\n"
      "3a19ff88-4620-4d17-9830-ac1d859eb5d6,physical,north,-0.12,\r\n"
      "3a19ff88-4620-4d17-9830-ac1d859eb5d7,physical,1\r\n"
      ",physical,,,\r\n"
      "3a19ff88-4620-4d17-9830-ac1d859eb5d8,\xff\xfe,,,\r\n";
  std::vector<ImportProblem> problems;
  Result<std::vector<HsdsObject>> r =
      ReadTabular(Folder(kOrgs, {{"locations.csv", locations}}), &problems);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);  // the organization and the first location
  EXPECT_EQ((*r)[1].fields,
            json({{"location_type", "physical"}, {"latitude", 51.5}, {"longitude", -0.12}}));
  ASSERT_EQ(problems.size(), 4u);
  EXPECT_EQ(problems[0].where, "locations.csv row 3 column latitude");
  EXPECT_EQ(problems[0].record, "3a19ff88-4620-4d17-9830-ac1d859eb5d6");
  EXPECT_EQ(problems[0].error, "must be a number, got \"north\"");
  EXPECT_EQ(problems[1].where, "locations.csv row 4");
  EXPECT_EQ(problems[1].error, "has 3 cells, the header 5");
  EXPECT_EQ(problems[2].where, "locations.csv row 5 column id");
  EXPECT_EQ(problems[3].where, "locations.csv row 6 column location_type");
  EXPECT_NE(problems[3].error.find("UTF-8"), std::string::npos);
}

TEST_F(BadTabular, FilesThatAreNoHsdsTableOrLinksAreRefused) {
  ExpectError(ReadError(Folder(kOrgs, {{"people.csv", "id\r\n"}})), Code::kInvalidArgument,
              "people.csv: not an HSDS table");
  std::string d = Folder(kOrgs);
  fs::create_symlink("/etc/passwd", d + "/services.csv");
  ExpectError(ReadError(d), Code::kInvalidArgument, "services.csv: is a symbolic link");
  d = dir_ / "none";
  fs::create_directory(d);
  Write(d + "/README.md", "hello");
  ExpectError(ReadError(d), Code::kInvalidArgument, "no HSDS table");
  ExpectError(ReadError(dir_ / "missing"), Code::kNotFound, "cannot read");
  ExpectError(ReadError(Folder(kOrgs, {{"service_at_location.csv", "id\r\n"},
                                       {"service_at_locations.csv", "id\r\n"}})),
              Code::kInvalidArgument, "a second file of service_at_location objects");
}

TEST_F(BadTabular, ADataPackageNamingFilesOutsideThePackageOrUnlistedFilesIsRefused) {
  auto package = [](const std::string& path) {
    return json{{"resources", {{{"name", "organization"}, {"path", path}}}}}.dump();
  };
  ExpectError(ReadError(Folder(kOrgs, {{"datapackage.json", package("../organizations.csv")}})),
              Code::kInvalidArgument, "is not a file of the package");
  ExpectError(ReadError(Folder(kOrgs, {{"datapackage.json", package("/etc/passwd")}})),
              Code::kInvalidArgument, "is not a file of the package");
  ExpectError(
      ReadError(Folder(kOrgs, {{"datapackage.json", package("https://example.com/o.csv")}})),
      Code::kInvalidArgument, "is remote");
  ExpectError(
      ReadError(Folder(
          kOrgs, {{"datapackage.json", package("organizations.csv")}, {"services.csv", "id\r\n"}})),
      Code::kInvalidArgument, "services.csv: a CSV file that datapackage.json does not list");
  ExpectError(ReadError(Folder(kOrgs, {{"datapackage.json", "{\"resources\": [1,"}})),
              Code::kInvalidArgument, "datapackage.json: not valid JSON");
  ExpectError(ReadError(Folder(kOrgs, {{"datapackage.json", "{}"}})), Code::kInvalidArgument,
              "not a data package");
  ExpectError(ReadError(Folder(kOrgs, {{"datapackage.json", std::string(100000, '[')}})),
              Code::kInvalidArgument, "nested more than");
  // A resource's name or its file says the kind; the declared types type the extra columns.
  std::string d =
      Folder("id,x_count,x_tags\r\nd9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610,7,\"[\"\"a\"\"]\"\r\n");
  fs::create_directory(d + "/data");
  fs::rename(d + "/organizations.csv", d + "/data/orgs.csv");
  Write(d + "/datapackage.json", json{{"resources",
                                       {{{"name", "organization"},
                                         {"path", "data/orgs.csv"},
                                         {"schema",
                                          {{"fields",
                                            {{{"name", "x_count"}, {"type", "integer"}},
                                             {{"name", "x_tags"}, {"type", "array"}}}}}}}}}}
                                     .dump());
  std::vector<ImportProblem> problems;
  Result<std::vector<HsdsObject>> r = ReadTabular(d, &problems);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].fields, json({{"x_count", 7}, {"x_tags", {"a"}}}));
}

}  // namespace
}  // namespace sb
