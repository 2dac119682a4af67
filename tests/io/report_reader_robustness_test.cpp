// Whatever a report file holds, the reader either reads it or throws ReportError with one line
// naming the file: never another exception, never a crash (run under ASan/UBSan too).
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <random>

#include "codeprof/exporters.hpp"
#include "io/report_reader.hpp"
#include "io/sample_snapshot.hpp"

namespace codeprof {
namespace {

using OrderedJson = nlohmann::ordered_json;

// 0: read, 1: ReportError (checked to be one line naming the file); anything else fails the test.
int report_outcome(const std::string& text) {
  try {
    io::parse_report(text, "fuzz.json");
    return 0;
  } catch (const io::ReportError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("fuzz.json: ", 0), 0u) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    return 1;
  }
}

std::string sample_text() { return io::to_json_report(test::sample_snapshot(), test::sample_findings()); }

// Calls f(leaf) for every scalar in the document, in place.
void for_each_leaf(OrderedJson& j, const std::function<void(OrderedJson&)>& f) {
  if (j.is_structured()) {
    for (auto& child : j) for_each_leaf(child, f);
  } else {
    f(j);
  }
}

TEST(ReportReaderRobustness, EveryLeafReplacedByEveryKindOfWrongValue) {
  const OrderedJson original = OrderedJson::parse(sample_text());
  std::size_t leaves = 0;
  {
    OrderedJson copy = original;
    for_each_leaf(copy, [&](OrderedJson&) { ++leaves; });
  }
  ASSERT_GT(leaves, 300u);
  const std::vector<OrderedJson> replacements = {OrderedJson("text"), OrderedJson(-1), OrderedJson(-1e300), OrderedJson(1e300), OrderedJson(nullptr),
                                          OrderedJson::array(), OrderedJson::object(), OrderedJson(true), OrderedJson(4294967296ull),
                                          OrderedJson(18446744073709551615ull), OrderedJson(0.5)};
  std::size_t errors = 0, reads = 0;
  // Four replacements per leaf, rotating, so every kind of value meets every kind of key.
  for (std::size_t target = 0; target < leaves; ++target) {
    for (std::size_t k = 0; k < 4; ++k) {
      const OrderedJson& replacement = replacements[(target + k) % replacements.size()];
      OrderedJson doc = original;
      std::size_t index = 0;
      for_each_leaf(doc, [&](OrderedJson& leaf) {
        if (index++ == target) leaf = replacement;
      });
      (report_outcome(doc.dump()) ? errors : reads)++;
    }
  }
  // Many replacements are harmless (a string for a string, 0.5 seconds), many are not.
  EXPECT_GT(errors, leaves);
  EXPECT_GT(reads, leaves / 2);
}

TEST(ReportReaderRobustness, TruncationsAndByteFlips) {
  const std::string text = sample_text();
  for (std::size_t cut = 0; cut < text.size(); cut += text.size() / 300 + 1) EXPECT_EQ(report_outcome(text.substr(0, cut)), 1);
  std::mt19937 random(12345);
  std::uniform_int_distribution<std::size_t> position(0, text.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int i = 0; i < 3000; ++i) {
    std::string mutated = text;
    for (int k = 0; k < 1 + i % 4; ++k) mutated[position(random)] = static_cast<char>(byte(random));
    report_outcome(mutated);
  }
}

TEST(ReportReaderRobustness, DeepNestingAndHugeDocumentsOfTheWrongShape) {
  EXPECT_EQ(report_outcome(std::string(30000, '[') + std::string(30000, ']')), 1);
  EXPECT_EQ(report_outcome("{\"schema_version\":1,\"run\":{},\"operations\":" + std::string(30000, '[') + std::string(30000, ']') + "}"), 1);
  EXPECT_EQ(report_outcome(std::string("{\"schema_version\":1,\"run\":{},\"operations\":[") + "{\"id\":1,\"name\":\"a\",\"type\":\"io\",\"count\":1,\"total_time\":1}," +
                    "{\"id\":1,\"name\":\"b\",\"type\":\"io\",\"count\":1,\"total_time\":1}]}"),
            1);
  EXPECT_EQ(report_outcome("\xEF\xBB\xBF{\"schema_version\":1,\"run\":{},\"operations\":[]}"), 0) << "a byte order mark is fine";
}

}  // namespace
}  // namespace codeprof
