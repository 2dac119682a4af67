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

// A string, number or whitespace run the lexer would have to keep whole is refused by its offset
// once it passes 16 MiB; a long name below that reads back, escaped quotes included.
TEST(ReportReaderRobustness, OverlongTokensAreRefusedBeforeTheyAreBuffered) {
  const auto report_with = [](const std::string& name, const std::string& gap = "", const std::string& count = "1") {
    return "{\"schema_version\":1,\"run\":{}," + gap + "\"operations\":[{\"id\":1,\"name\":\"" + name +
           "\",\"type\":\"io\",\"count\":" + count + ",\"total_time\":1}]}";
  };
  const auto refusal = [](const std::string& text) -> std::string {
    try {
      io::parse_report(text, "long.json");
    } catch (const io::ReportError& e) {
      return e.what();
    }
    return "read";
  };
  constexpr std::size_t kOver = (16u << 20) + 1;
  const std::string too_long_name = refusal(report_with(std::string(kOver, 'x')));
  EXPECT_EQ(too_long_name.rfind("long.json: a string longer than 16 MiB at byte ", 0), 0u) << too_long_name;
  const std::string too_much_space = refusal(report_with("a", std::string(kOver, ' ')));
  EXPECT_NE(too_much_space.find("run of whitespace longer than 16 MiB"), std::string::npos) << too_much_space;
  const std::string too_many_digits = refusal(report_with("a", "", std::string(kOver, '7')));
  EXPECT_NE(too_many_digits.find("longer than 16 MiB"), std::string::npos) << too_many_digits;

  std::string quoted;
  for (int i = 0; i < 200000; ++i) quoted += "ab\\\"";  // ab\" : the escaped quote does not end the string
  const io::Report back = io::parse_report(report_with(quoted), "long.json");
  ASSERT_EQ(back.snapshot.operations.size(), 1u);
  EXPECT_EQ(back.snapshot.operations[0].name.size(), 200000u * 3);
}

}  // namespace
}  // namespace codeprof
