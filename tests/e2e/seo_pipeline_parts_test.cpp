// The demo's plain C++ parts: corpus generation, HTML clean-up, both tokenizers, vocabulary,
// features, the data loader and the command line.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <codeprof/codeprof.hpp>

#include "corpus.hpp"
#include "data_loader.hpp"
#include "dataset.hpp"
#include "features.hpp"
#include "html.hpp"
#include "options.hpp"
#include "progress.hpp"
#include "tokenizer.hpp"
#include "vocabulary.hpp"

namespace fs = std::filesystem;

namespace {

std::vector<std::string> tokens_of(seo::TokenizerKind kind, std::string_view text) {
  seo::TokenList list;
  seo::tokenize(kind, text, list);
  std::vector<std::string> out;
  for (std::size_t i = 0; i < list.size(); ++i) out.emplace_back(list[i]);
  return out;
}

codeprof::Profiler& quiet_profiler() {
  static codeprof::Profiler p([] {
    codeprof::Config c;
    c.sampler_enabled = false;
    return c;
  }());
  return p;
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("seo_parts_" + std::to_string(::getpid()) + "_" +
                                               ::testing::UnitTest::GetInstance()->current_test_info()->name());
  TempDir() { fs::remove_all(path); }
  ~TempDir() { fs::remove_all(path); }
};

}  // namespace

TEST(Tokenizer, SplitsOnNonAlphanumericsAndLowercases) {
  EXPECT_EQ(tokens_of(seo::TokenizerKind::Fast, "Hello, World! 42x--don't  stop"),
            (std::vector<std::string>{"hello", "world", "42x", "don", "t", "stop"}));
  EXPECT_TRUE(tokens_of(seo::TokenizerKind::Fast, "").empty());
  EXPECT_TRUE(tokens_of(seo::TokenizerKind::Fast, " ,.; ").empty());
  EXPECT_EQ(tokens_of(seo::TokenizerKind::Fast, "caf\xc3\xa9 ok"), (std::vector<std::string>{"caf", "ok"}));
}

TEST(Tokenizer, SlowPerCharacterLoopGivesIdenticalTokens) {
  for (std::uint64_t id = 0; id < 20; ++id) {
    const auto page = seo::generate_page(7, id);
    const auto parsed = seo::parse_html(page.html);
    ASSERT_EQ(tokens_of(seo::TokenizerKind::Fast, parsed.text), tokens_of(seo::TokenizerKind::SlowPerCharacter, parsed.text))
        << "page " << id;
  }
  EXPECT_EQ(tokens_of(seo::TokenizerKind::SlowPerCharacter, "A\xff" "b 9"), (std::vector<std::string>{"a", "b", "9"}));
}

TEST(Html, ExtractsVisibleTextAndStructure) {
  const std::string html =
      "<html><head><title>Best &amp; Coffee</title>"
      "<meta name=\"description\" content=\"Fresh &quot;beans&quot; daily\">"
      "<script>var x = '<p>not text</p>';</script><style>p{color:red}</style></head>"
      "<body><h1>Roast</h1><h2>One</h2><h2>Two</h2><!-- <h1>hidden</h1> -->"
      "<p>Visit <a href=\"/shop\">shop</a>, <a href=\"https://example.org/\">site</a> or <a href=\"#\">here</a>"
      " &#39;now&#x21;</p><img src=\"a.jpg\" alt=\"A\"><img src=\"b.jpg\"><img src=\"c.jpg\" alt=\"\"></body></html>";
  const seo::ParsedPage p = seo::parse_html(html);
  EXPECT_EQ(p.title, "Best & Coffee");
  EXPECT_EQ(p.description, "Fresh \"beans\" daily");
  EXPECT_EQ(p.text, "Best & Coffee Roast One Two Visit shop, site or here 'now!");
  EXPECT_EQ(p.h1, 1);
  EXPECT_EQ(p.h2, 2);
  EXPECT_EQ(p.internal_links, 1);
  EXPECT_EQ(p.external_links, 1);
  EXPECT_EQ(p.broken_links, 1);
  EXPECT_EQ(p.images, 3);
  EXPECT_EQ(p.images_without_alt, 2);
}

TEST(Html, MalformedInputEndsWithoutCrashing) {
  for (const char* html : {"<p>open", "<a href=\"unterminated", "<!-- never closed", "<script>no end", "&amp", "<<<>>>",
                           "&#99999999; &#xZZ; &unknown;"}) {
    const seo::ParsedPage p = seo::parse_html(html);
    EXPECT_LE(p.text.size(), std::string_view(html).size() + 4) << html;
  }
  EXPECT_EQ(seo::parse_html("<p>open").text, "open");
  EXPECT_EQ(seo::parse_html("&#99999999; &unknown; &amp").text, "&#99999999; &unknown; &amp");
}

TEST(Corpus, PagesAreDeterministicAndVaried) {
  const auto a = seo::generate_page(42, 5), b = seo::generate_page(42, 5), c = seo::generate_page(42, 6);
  EXPECT_EQ(a.html, b.html);
  EXPECT_EQ(a.score, b.score);
  EXPECT_NE(a.html, c.html);
  EXPECT_NE(seo::generate_page(43, 5).html, a.html);
  double lo = 1, hi = 0;
  for (std::uint64_t id = 0; id < 300; ++id) {
    const float s = seo::generate_page(1, id).score;
    ASSERT_GE(s, 0.0f);
    ASSERT_LE(s, 1.0f);
    lo = std::min<double>(lo, s);
    hi = std::max<double>(hi, s);
  }
  EXPECT_LT(lo, 0.2);  // the score spans good and bad pages
  EXPECT_GT(hi, 0.8);
}

TEST(Corpus, GeneratedOnceThenReadBack) {
  TempDir tmp;
  seo::CorpusSpec spec{(tmp.path / "corpus").string(), 300'000, 9, 100'000};
  bool generated = false;
  const seo::CorpusIndex index = seo::ensure_corpus(spec, quiet_profiler(), &generated);
  EXPECT_TRUE(generated);
  ASSERT_GT(index.pages.size(), 20u);
  EXPECT_GE(index.bytes, spec.target_bytes);
  EXPECT_GE(index.shard_paths.size(), 3u);
  EXPECT_FALSE(fs::exists(spec.dir + ".tmp-" + std::to_string(::getpid())));

  const seo::CorpusIndex again = seo::ensure_corpus(spec, quiet_profiler(), &generated);
  EXPECT_FALSE(generated);
  EXPECT_EQ(again.pages.size(), index.pages.size());

  const seo::CorpusStore store(index, quiet_profiler());
  EXPECT_EQ(store.bytes(), index.bytes);
  for (std::size_t i : {std::size_t{0}, index.pages.size() / 2, index.pages.size() - 1}) {
    const auto page = seo::generate_page(spec.seed, index.pages[i].id);
    EXPECT_EQ(store.page(i), page.html);
    EXPECT_NEAR(index.pages[i].score, page.score, 1e-5);
  }

  // Another spec in the same directory replaces the corpus.
  spec.seed = 10;
  seo::ensure_corpus(spec, quiet_profiler(), &generated);
  EXPECT_TRUE(generated);
}

TEST(Corpus, CorruptIndexIsAClearError) {
  TempDir tmp;
  seo::CorpusSpec spec{(tmp.path / "corpus").string(), 50'000, 3, 100'000};
  seo::ensure_corpus(spec, quiet_profiler());
  { std::FILE* f = std::fopen((spec.dir + "/index.tsv").c_str(), "a"); std::fputs("12 oops\n", f); std::fclose(f); }
  try {
    seo::ensure_corpus(spec, quiet_profiler());
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("index.tsv:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("expected 'id score shard offset length'"), std::string::npos) << e.what();
  }
}

TEST(Corpus, CorruptShardIsAClearError) {
  TempDir tmp;
  seo::CorpusSpec spec{(tmp.path / "corpus").string(), 50'000, 3, 100'000};
  const seo::CorpusIndex index = seo::ensure_corpus(spec, quiet_profiler());
  ASSERT_EQ(index.shard_paths.size(), 1u);
  fs::resize_file(index.shard_paths[0], fs::file_size(index.shard_paths[0]) / 2);
  try {
    seo::CorpusStore store(index, quiet_profiler());
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(index.shard_paths[0]), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("corrupt zlib stream"), std::string::npos) << e.what();
  }
}

TEST(Vocabulary, MostFrequentFirstTiesAlphabetical) {
  seo::Vocabulary::Builder builder;
  seo::TokenList t;
  seo::tokenize_fast("b a c b a b d", t);
  builder.add(t);
  const seo::Vocabulary v = builder.build(5);
  ASSERT_EQ(v.size(), 5u);
  EXPECT_EQ(v.token(0), "<pad>");
  EXPECT_EQ(v.token(1), "<unk>");
  EXPECT_EQ(v.id("b"), 2);
  EXPECT_EQ(v.id("a"), 3);
  EXPECT_EQ(v.id("c"), 4);  // c and d tie: c wins alphabetically, d is cut
  EXPECT_EQ(v.id("d"), seo::Vocabulary::kUnknown);
  std::vector<std::int64_t> ids;
  seo::tokenize_fast("a d b zz", t);
  v.encode(t, ids, 3);
  EXPECT_EQ(ids, (std::vector<std::int64_t>{3, 1, 2}));
}

TEST(Features, FollowThePageStructure) {
  const seo::ParsedPage p = seo::parse_html(
      "<title>coffee roast guide</title><meta name=\"description\" content=\"all about coffee\">"
      "<h1>Coffee</h1><p>coffee beans coffee <a href=\"/x\">x</a> <a href=\"#\">y</a></p><img src=a>");
  seo::TokenList tokens;
  seo::tokenize_fast(p.text, tokens);
  const seo::Features f = seo::extract_features(p, tokens);
  EXPECT_FLOAT_EQ(f[0], 3.0f / 14.0f);  // title words
  EXPECT_FLOAT_EQ(f[1], 1.0f);          // title holds the main keyword ("coffee")
  EXPECT_FLOAT_EQ(f[3], 1.0f);          // has a description
  EXPECT_FLOAT_EQ(f[4], 1.0f);          // exactly one h1
  EXPECT_FLOAT_EQ(f[6], 1.0f / 20.0f);  // internal links
  EXPECT_FLOAT_EQ(f[8], 1.0f / 5.0f);   // broken links
  EXPECT_FLOAT_EQ(f[11], 1.0f);         // the only image has no alt
  for (float v : f) {
    EXPECT_GE(v, 0.0f);
    EXPECT_LE(v, 1.0f);
  }
}

class LoaderTest : public ::testing::TestWithParam<std::pair<std::size_t, std::size_t>> {};

TEST_P(LoaderTest, DeliversEveryPageOnceInOrderWhateverTheWorkers) {
  TempDir tmp;
  const seo::CorpusIndex index =
      seo::ensure_corpus({(tmp.path / "c").string(), 200'000, 4, 100'000}, quiet_profiler());
  const seo::CorpusStore store(index, quiet_profiler());
  std::vector<std::size_t> pages(index.pages.size());
  for (std::size_t i = 0; i < pages.size(); ++i) pages[i] = i;
  const seo::Vocabulary vocab = seo::build_vocabulary(store, pages, 1000, 500, seo::TokenizerKind::Fast, quiet_profiler());
  const seo::PageDataset dataset(index, store, vocab, {seo::TokenizerKind::Fast, 64}, quiet_profiler());
  const auto order = seo::epoch_order(pages, 1, 0);
  ASSERT_NE(order, pages);  // shuffled
  ASSERT_EQ(std::multiset<std::size_t>(order.begin(), order.end()), std::multiset<std::size_t>(pages.begin(), pages.end()));

  const auto [workers, prefetch] = GetParam();
  seo::DataLoader loader(dataset, order, {7, workers, prefetch}, quiet_profiler());
  EXPECT_EQ(loader.batches(), (order.size() + 6) / 7);
  std::size_t seen = 0;
  for (std::size_t b = 0; b < loader.batches(); ++b) {
    auto batch = loader.next();
    ASSERT_TRUE(batch);
    EXPECT_EQ(batch->index, b);
    ASSERT_EQ(batch->tokens.size(), batch->size * batch->length);
    ASSERT_EQ(batch->features.size(), batch->size * seo::kFeatureCount);
    for (std::size_t i = 0; i < batch->size; ++i) {
      const seo::Example expected = dataset.get(order[seen + i]);
      EXPECT_EQ(batch->ids[i], expected.id);
      EXPECT_EQ(batch->targets[i], expected.score);
      for (std::size_t t = 0; t < batch->length; ++t)
        ASSERT_EQ(batch->tokens[i * batch->length + t], t < expected.tokens.size() ? expected.tokens[t] : seo::Vocabulary::kPad);
    }
    seen += batch->size;
  }
  EXPECT_EQ(seen, order.size());
  EXPECT_FALSE(loader.next());
}

INSTANTIATE_TEST_SUITE_P(WorkersAndPrefetch, LoaderTest,
                         ::testing::Values(std::pair<std::size_t, std::size_t>{0, 0}, std::pair<std::size_t, std::size_t>{1, 0},
                                           std::pair<std::size_t, std::size_t>{2, 3}, std::pair<std::size_t, std::size_t>{3, 50}));

TEST(Loader, StopsEarlyWithoutHanging) {
  TempDir tmp;
  const seo::CorpusIndex index = seo::ensure_corpus({(tmp.path / "c").string(), 100'000, 4, 100'000}, quiet_profiler());
  const seo::CorpusStore store(index, quiet_profiler());
  std::vector<std::size_t> pages(index.pages.size());
  for (std::size_t i = 0; i < pages.size(); ++i) pages[i] = i;
  const seo::Vocabulary vocab = seo::build_vocabulary(store, pages, 10, 100, seo::TokenizerKind::Fast, quiet_profiler());
  const seo::PageDataset dataset(index, store, vocab, {}, quiet_profiler());
  seo::DataLoader loader(dataset, pages, {2, 2, 2}, quiet_profiler());
  ASSERT_TRUE(loader.next());
  // Destroyed with batches still pending: the workers must exit.
}

namespace {
seo::ParsedOptions parse(std::vector<std::string> args) {
  args.insert(args.begin(), "seo_pipeline");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return seo::parse_options(static_cast<int>(argv.size()), argv.data());
}
}  // namespace

TEST(Options, DefaultsQuickAndPlants) {
  auto p = parse({});
  ASSERT_TRUE(p.options);
  EXPECT_EQ(p.options->workers, seo::default_workers(std::thread::hardware_concurrency()));
  EXPECT_EQ(seo::default_workers(1), 1u);
  EXPECT_EQ(seo::default_workers(2), 1u);
  EXPECT_EQ(seo::default_workers(4), 3u);
  EXPECT_EQ(seo::default_workers(64), 4u);
  EXPECT_EQ(p.options->corpus_mb, 32u);
  p = parse({"--quick", "--epochs", "5"});
  ASSERT_TRUE(p.options);
  EXPECT_EQ(p.options->corpus_mb, 4u);
  EXPECT_EQ(p.options->epochs, 5u);  // an explicit flag wins over --quick
  p = parse({"--plant", "no-workers,slow-tokenizer", "--plant", "leak", "--plant", "batch-size-1,no-cache"});
  ASSERT_TRUE(p.options);
  EXPECT_EQ(p.options->workers, 0u);
  EXPECT_EQ(p.options->prefetch, 0u);
  EXPECT_EQ(p.options->batch_size, 1u);
  EXPECT_TRUE(p.options->reread_corpus);
  EXPECT_TRUE(p.options->leak);
  EXPECT_EQ(p.options->tokenizer, seo::TokenizerKind::SlowPerCharacter);
  EXPECT_EQ(p.options->corpus_dir(), "seo_data/corpus_32mb_seed42");
}

TEST(Options, BadValuesAreRejected) {
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"--batch-size", "0"}, {"--workers", "-1"}, {"--plant", "bogus"}, {"--torch-ops", "1.5"},
        {"--precision", "fp8"}, {"--port", "70000"}, {"--epochs", "many"}, {"--no-such-flag"}}) {
    const auto p = parse(bad);
    EXPECT_FALSE(p.options) << bad[0];
    EXPECT_NE(p.exit_code, 0) << bad[0];
  }
  const auto help = parse({"--help"});
  EXPECT_FALSE(help.options);
  EXPECT_EQ(help.exit_code, 0);
}

TEST(ProgressBar, PrintsOnlyFinalLinesWhenNotATerminal) {
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  seo::ProgressBar bar(out);
  bar.start("epoch 1/2", 100);
  for (std::size_t i = 1; i <= 100; ++i) bar.update(i, "loss 0.1");
  bar.finish("train loss 0.1");
  bar.message("early stopping");
  std::rewind(out);
  char buf[512] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, out);
  std::fclose(out);
  const std::string text(buf, n);
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_NE(text.find("epoch 1/2"), std::string::npos);
  EXPECT_NE(text.find(": train loss 0.1\n"), std::string::npos);
  EXPECT_NE(text.find("early stopping\n"), std::string::npos);
}
