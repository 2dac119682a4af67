#include "corpus.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <unistd.h>
#include <zlib.h>

#include <codeprof/codeprof.hpp>

#include "rng.hpp"

namespace seo {
namespace {

namespace fs = std::filesystem;
using codeprof::Category;

constexpr int kFormatVersion = 3;  // 2: zlib shards with a size + CRC header; 3: shorter pages

struct Topic {
  const char* name;
  std::array<const char*, 8> keywords;
};

constexpr std::array<Topic, 12> kTopics = {{
    {"coffee", {"coffee", "espresso", "roast", "beans", "brew", "barista", "arabica", "grinder"}},
    {"travel", {"travel", "flights", "hotel", "itinerary", "passport", "luggage", "resort", "destination"}},
    {"fitness", {"fitness", "workout", "protein", "cardio", "muscle", "stretching", "treadmill", "endurance"}},
    {"finance", {"finance", "mortgage", "savings", "budget", "interest", "investment", "pension", "credit"}},
    {"gardening", {"gardening", "compost", "seedlings", "pruning", "tomatoes", "soil", "perennials", "mulch"}},
    {"cooking", {"cooking", "recipe", "oven", "saucepan", "simmer", "garlic", "pastry", "seasoning"}},
    {"software", {"software", "compiler", "debugging", "database", "deployment", "latency", "framework", "refactoring"}},
    {"cycling", {"cycling", "bicycle", "gears", "saddle", "helmet", "puncture", "derailleur", "commute"}},
    {"photography", {"photography", "camera", "aperture", "shutter", "lens", "exposure", "tripod", "portrait"}},
    {"pets", {"pets", "puppy", "kitten", "veterinarian", "leash", "grooming", "aquarium", "adoption"}},
    {"housing", {"housing", "apartment", "renovation", "plumbing", "insulation", "landlord", "furniture", "flooring"}},
    {"music", {"music", "guitar", "piano", "melody", "rhythm", "concert", "orchestra", "chords"}},
}};

constexpr std::array<const char*, 12> kQualityWords = {"research", "guide",   "analysis", "detailed",
                                                       "expert",   "study",   "tested",   "sources",
                                                       "methodology", "reviewed", "evidence", "comparison"};
constexpr std::array<const char*, 12> kSpamWords = {"cheap",   "buy",     "free",  "discount", "click",  "winner",
                                                    "limited", "offer",   "bonus", "guaranteed", "casino", "deal"};
constexpr std::array<const char*, 20> kStopWords = {"the", "a",    "of",   "and",  "to",   "in",   "is",
                                                    "for", "with", "on",   "that", "this", "it",   "as",
                                                    "are", "be",   "by",   "at",   "or",   "from"};

// Filler vocabulary: pronounceable pseudo-words with a Zipf-like frequency, built once.
struct Filler {
  std::vector<std::string> words;
  std::vector<double> cdf;
  Filler() {
    constexpr std::array<const char*, 24> syllables = {"ka", "lo", "mi", "ne", "ru", "ta", "ven", "dor",
                                                       "sil", "pra", "tor", "qui", "bel", "zan", "fo", "gri",
                                                       "sha", "mon", "ter", "ual", "ex", "pen", "cor", "dy"};
    Rng rng(0xF111E5ull);
    constexpr std::size_t kWords = 4000;
    words.reserve(kWords);
    double total = 0.0;
    for (std::size_t i = 0; i < kWords; ++i) {
      std::string w;
      const auto n = rng.between(2, 4);
      for (std::uint64_t s = 0; s < n; ++s) w += syllables[rng.between(0, syllables.size() - 1)];
      words.push_back(std::move(w));
      total += 1.0 / std::pow(static_cast<double>(i + 1), 1.05);
      cdf.push_back(total);
    }
    for (auto& c : cdf) c /= total;
  }
  const std::string& pick(Rng& rng) const {
    const auto it = std::lower_bound(cdf.begin(), cdf.end(), rng.uniform());
    return words[static_cast<std::size_t>(std::min<std::ptrdiff_t>(it - cdf.begin(), static_cast<std::ptrdiff_t>(words.size()) - 1))];
  }
};

const Filler& filler() {
  static const Filler f;
  return f;
}

template <typename Array>
const char* pick(Rng& rng, const Array& a) {
  return a[rng.between(0, a.size() - 1)];
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// Traits drawn per page; the score is a hidden function of them.
struct Traits {
  const Topic* topic = nullptr;
  int title_words = 0;
  bool title_has_keyword = false;
  int meta_words = 0;  // 0: no meta description
  int h1 = 0;
  int h2 = 0;
  int paragraphs = 0;
  double keyword_density = 0.0;
  int spam = 0;
  int quality = 0;
  int internal_links = 0;
  int external_links = 0;
  int broken_links = 0;
  int images = 0;
  int images_without_alt = 0;
};

Traits draw_traits(Rng& rng) {
  Traits t;
  t.topic = &kTopics[rng.between(0, kTopics.size() - 1)];
  t.title_words = static_cast<int>(rng.between(2, 14));
  t.title_has_keyword = rng.chance(0.7);
  t.meta_words = rng.chance(0.75) ? static_cast<int>(rng.between(4, 40)) : 0;
  t.h1 = static_cast<int>(rng.chance(0.7) ? 1 : rng.between(0, 3));
  t.h2 = static_cast<int>(rng.between(0, 6));
  t.paragraphs = static_cast<int>(rng.between(3, 8));
  t.keyword_density = rng.chance(0.15) ? 0.06 + 0.08 * rng.uniform() : 0.002 + 0.04 * rng.uniform();
  t.spam = rng.chance(0.3) ? static_cast<int>(rng.between(1, 8)) : 0;
  t.quality = static_cast<int>(rng.between(0, 10));
  t.internal_links = static_cast<int>(rng.between(0, 20));
  t.external_links = static_cast<int>(rng.between(0, 10));
  t.broken_links = rng.chance(0.25) ? static_cast<int>(rng.between(1, 5)) : 0;
  t.images = static_cast<int>(rng.between(0, 6));
  t.images_without_alt = t.images ? static_cast<int>(rng.between(0, static_cast<std::uint64_t>(t.images))) : 0;
  return t;
}

double quality_score(const Traits& t, Rng& rng) {
  double s = 0.0;
  s += t.title_has_keyword ? 0.8 : -0.2;
  s += (t.title_words >= 4 && t.title_words <= 10) ? 0.5 : -0.4;
  s += t.meta_words == 0 ? -0.6 : (t.meta_words >= 8 && t.meta_words <= 30 ? 0.6 : 0.0);
  s += t.h1 == 1 ? 0.4 : -0.3;
  s += 0.1 * std::min(t.h2, 4);
  s += t.keyword_density > 0.06 ? -1.2 : (t.keyword_density >= 0.01 ? 0.6 : -0.3);
  s -= 0.45 * t.spam;
  s += 0.08 * std::min(t.quality, 8);
  s += (t.internal_links >= 3 && t.internal_links <= 15) ? 0.3 : -0.1;
  s += (t.external_links >= 1 && t.external_links <= 6) ? 0.2 : -0.1;
  s -= 0.25 * t.broken_links;
  s += 0.08 * (t.paragraphs - 5);
  if (t.images) s -= 0.4 * static_cast<double>(t.images_without_alt) / t.images;
  s += 0.25 * rng.normal();  // what no feature explains
  return sigmoid(s - 0.9);
}

// Appends `n` words of prose: filler with topic keywords at the page's density and the page's
// quality/spam words sprinkled in.
void append_words(std::string& out, Rng& rng, const Traits& t, int n, int& spam_left, int& quality_left) {
  for (int i = 0; i < n; ++i) {
    if (i) out += ' ';
    const double u = rng.uniform();
    if (u < t.keyword_density) {
      out += t.topic->keywords[rng.between(0, 7) / 3];  // the first keywords dominate
    } else if (spam_left > 0 && rng.chance(0.04)) {
      out += pick(rng, kSpamWords);
      --spam_left;
    } else if (quality_left > 0 && rng.chance(0.04)) {
      out += pick(rng, kQualityWords);
      --quality_left;
    } else if (u < 0.45) {
      out += pick(rng, kStopWords);
    } else if (u < 0.5) {
      out += t.topic->keywords[rng.between(0, 7)];
    } else {
      out += filler().pick(rng);
    }
  }
}

std::string capitalised_words(Rng& rng, const Traits& t, int n, bool keyword_first) {
  std::string s;
  int none = 0;
  if (keyword_first) s = t.topic->keywords[0];
  for (int i = keyword_first ? 1 : 0; i < n; ++i) {
    if (!s.empty()) s += ' ';
    append_words(s, rng, t, 1, none, none);
  }
  if (!s.empty()) s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

}  // namespace

GeneratedPage generate_page(std::uint64_t seed, std::uint64_t id) {
  Rng rng(mix_seed(seed, id));
  const Traits t = draw_traits(rng);
  GeneratedPage page;
  page.score = static_cast<float>(quality_score(t, rng));

  std::string& h = page.html;
  h.reserve(4096);
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>";
  h += capitalised_words(rng, t, t.title_words, t.title_has_keyword);
  h += "</title>\n";
  if (t.meta_words) {
    h += "<meta name=\"description\" content=\"";
    int none = 0;
    append_words(h, rng, t, t.meta_words, none, none);
    h += "\">\n";
  }
  h += "<style>body{font-family:sans-serif;margin:0 auto;max-width:48rem}</style>\n";
  h += "<script>window.analytics={page:" + std::to_string(id) + ",topic:\"" + t.topic->name + "\"};</script>\n";
  h += "</head>\n<body>\n<nav><a href=\"/\">Home</a> | <a href=\"/" + std::string(t.topic->name) + "/\">" +
       t.topic->name + "</a></nav>\n";
  for (int i = 0; i < t.h1; ++i) h += "<h1>" + capitalised_words(rng, t, 5, i == 0) + "</h1>\n";

  int spam_left = t.spam, quality_left = t.quality;
  int internal_left = t.internal_links, external_left = t.external_links, broken_left = t.broken_links;
  int images_left = t.images, no_alt_left = t.images_without_alt;
  for (int p = 0; p < t.paragraphs; ++p) {
    if (p > 0 && p <= t.h2) h += "<h2>" + capitalised_words(rng, t, 4, false) + "</h2>\n";
    h += "<p>";
    append_words(h, rng, t, static_cast<int>(rng.between(20, 60)), spam_left, quality_left);
    // Spread links, entities and images over the paragraphs.
    const int remaining = t.paragraphs - p;
    for (int k = 0; internal_left > 0 && k < (internal_left + remaining - 1) / remaining; ++k, --internal_left)
      h += " <a href=\"/" + std::string(t.topic->name) + "/" + std::to_string(rng.between(1, 9999)) + "\">" +
           filler().pick(rng) + "</a>";
    for (int k = 0; external_left > 0 && k < (external_left + remaining - 1) / remaining; ++k, --external_left)
      h += " <a href=\"https://example" + std::to_string(rng.between(1, 99)) + ".org/\" rel=\"nofollow\">" +
           filler().pick(rng) + "</a>";
    if (broken_left > 0) {
      h += " <a href=\"#\">" + filler().pick(rng) + "</a>";
      --broken_left;
    }
    if (rng.chance(0.3)) h += " &amp; more &quot;" + filler().pick(rng) + "&quot;";
    append_words(h += ' ', rng, t, static_cast<int>(rng.between(5, 20)), spam_left, quality_left);
    h += ".</p>\n";
    if (images_left > 0 && rng.chance(0.6)) {
      if (no_alt_left > 0) {
        h += "<img src=\"/img/" + std::to_string(rng.between(1, 99999)) + ".jpg\">\n";
        --no_alt_left;
      } else {
        h += "<img src=\"/img/" + std::to_string(rng.between(1, 99999)) + ".jpg\" alt=\"" +
             capitalised_words(rng, t, 3, false) + "\">\n";
      }
      --images_left;
    }
  }
  for (; images_left > 0; --images_left) {
    h += no_alt_left-- > 0 ? "<img src=\"/img/0.jpg\">\n" : "<img src=\"/img/0.jpg\" alt=\"Figure\">\n";
  }
  h += "<footer><p>&copy; Example Pages &middot; <a href=\"/about\">About</a></p></footer>\n</body>\n</html>\n";
  return page;
}

namespace {

std::string manifest_text(const CorpusSpec& spec) {
  std::ostringstream m;
  m << "format " << kFormatVersion << "\nseed " << spec.seed << "\ntarget_bytes " << spec.target_bytes
    << "\nshard_bytes " << spec.shard_bytes << "\n";
  return m.str();
}

std::string read_whole_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(errno));
  std::string data;
  in.seekg(0, std::ios::end);
  data.resize(static_cast<std::size_t>(in.tellg()));
  in.seekg(0);
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  if (!in) throw std::runtime_error("short read from " + path.string());
  return data;
}

void write_whole_file(const fs::path& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.close();
  if (!out) throw std::runtime_error("cannot write " + path.string() + ": " + std::strerror(errno));
}

std::string shard_name(std::uint32_t shard) {
  char name[32];
  std::snprintf(name, sizeof name, "shard_%04u.pages.z", shard);
  return name;
}

// A shard on disk: "SEOZ <uncompressed bytes> <crc32>\n" then the zlib stream. Web crawls are
// stored compressed too; reading one back costs a decompression, which is what caching saves.
std::string compress_shard(std::string_view data) {
  uLongf size = compressBound(static_cast<uLong>(data.size()));
  std::string out = "SEOZ " + std::to_string(data.size()) + " " +
                    std::to_string(crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size()))) +
                    "\n";
  const std::size_t header = out.size();
  out.resize(header + size);
  if (compress2(reinterpret_cast<Bytef*>(out.data() + header), &size, reinterpret_cast<const Bytef*>(data.data()),
                static_cast<uLong>(data.size()), Z_BEST_SPEED) != Z_OK)
    throw std::runtime_error("zlib could not compress a corpus shard");
  out.resize(header + size);
  return out;
}

std::string decompress_shard(std::string_view packed, const std::string& path) {
  const auto bad = [&](const std::string& what) {
    return std::runtime_error(path + ": " + what + " (delete the corpus directory to regenerate it)");
  };
  const std::size_t eol = packed.find('\n');
  std::istringstream header(std::string(packed.substr(0, eol == std::string_view::npos ? 0 : eol)));
  std::string magic;
  std::uint64_t size = 0, crc = 0;
  if (eol == std::string_view::npos || !(header >> magic >> size >> crc) || magic != "SEOZ")
    throw bad("expected a 'SEOZ <bytes> <crc32>' header");
  std::string data(size, '\0');
  uLongf out_size = static_cast<uLongf>(size);
  const std::string_view stream = packed.substr(eol + 1);
  if (uncompress(reinterpret_cast<Bytef*>(data.data()), &out_size, reinterpret_cast<const Bytef*>(stream.data()),
                 static_cast<uLong>(stream.size())) != Z_OK ||
      out_size != size)
    throw bad("corrupt zlib stream");
  if (crc32(0, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size())) != crc)
    throw bad("CRC mismatch");
  return data;
}

// Parses index.tsv. A malformed line is an error naming the file and line.
CorpusIndex load_index(const fs::path& dir) {
  CorpusIndex index;
  index.dir = dir.string();
  const fs::path path = dir / "index.tsv";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::string line;
  std::size_t line_no = 0;
  std::uint32_t shards = 0;
  while (std::getline(in, line)) {
    ++line_no;
    PageRef ref;
    std::istringstream fields(line);
    if (!(fields >> ref.id >> ref.score >> ref.shard >> ref.offset >> ref.length))
      throw std::runtime_error(path.string() + ":" + std::to_string(line_no) +
                               ": expected 'id score shard offset length'");
    shards = std::max(shards, ref.shard + 1);
    index.bytes += ref.length;
    index.pages.push_back(ref);
  }
  for (std::uint32_t s = 0; s < shards; ++s) index.shard_paths.push_back((dir / shard_name(s)).string());
  return index;
}

void generate_into(const fs::path& dir, const CorpusSpec& spec, codeprof::Profiler& profiler) {
  std::ostringstream index;
  std::string shard;
  std::uint32_t shard_no = 0;
  std::uint64_t written = 0;
  auto flush_shard = [&] {
    if (shard.empty()) return;
    std::string packed;
    {
      CODEPROF_SCOPE(profiler, "compress_shard", Category::DataLoading);
      packed = compress_shard(shard);
    }
    CODEPROF_SCOPE(profiler, "write_shard", Category::Io);
    write_whole_file(dir / shard_name(shard_no), packed);
    written += shard.size();
    shard.clear();
    ++shard_no;
  };
  for (std::uint64_t id = 0; written < spec.target_bytes;) {
    {
      CODEPROF_SCOPE(profiler, "generate_pages", Category::DataLoading);
      while (shard.size() < spec.shard_bytes && written + shard.size() < spec.target_bytes) {
        const GeneratedPage page = generate_page(spec.seed, id);
        index << id << '\t' << page.score << '\t' << shard_no << '\t' << shard.size() << '\t' << page.html.size() << '\n';
        shard += page.html;
        ++id;
      }
    }
    flush_shard();
  }
  CODEPROF_SCOPE(profiler, "write_index", Category::Io);
  write_whole_file(dir / "index.tsv", index.str());
  write_whole_file(dir / "manifest.txt", manifest_text(spec));  // last: its presence marks completion
}

}  // namespace

CorpusIndex ensure_corpus(const CorpusSpec& spec, codeprof::Profiler& profiler, bool* generated) {
  CODEPROF_SCOPE(profiler, "ensure_corpus", Category::Io);
  const fs::path dir(spec.dir);
  const std::string manifest = manifest_text(spec);
  if (generated) *generated = false;
  std::error_code ec;
  if (fs::exists(dir / "manifest.txt", ec)) {
    if (read_whole_file(dir / "manifest.txt") == manifest) return load_index(dir);
    fs::remove_all(dir, ec);  // made from another spec: regenerate
    if (ec) throw std::runtime_error("cannot replace stale corpus " + dir.string() + ": " + ec.message());
  }
  const fs::path tmp = dir.string() + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) throw std::runtime_error("cannot create " + tmp.string() + ": " + ec.message());
  try {
    generate_into(tmp, spec, profiler);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  if (!dir.parent_path().empty()) fs::create_directories(dir.parent_path(), ec);
  fs::rename(tmp, dir, ec);
  if (ec) {
    // Another run finished first: use its corpus if it matches, else report why.
    fs::remove_all(tmp);
    if (!fs::exists(dir / "manifest.txt") || read_whole_file(dir / "manifest.txt") != manifest)
      throw std::runtime_error("cannot move the generated corpus to " + dir.string() + ": " + ec.message());
  } else if (generated) {
    *generated = true;
  }
  return load_index(dir);
}

CorpusStore::CorpusStore(const CorpusIndex& index, codeprof::Profiler& profiler) : index_(&index) {
  CODEPROF_SCOPE(profiler, "load_corpus", Category::DataLoading);
  shards_.reserve(index.shard_paths.size());
  for (const auto& path : index.shard_paths) {
    std::string packed;
    {
      CODEPROF_SCOPE(profiler, "read_shard", Category::Io);
      packed = read_whole_file(path);
    }
    shards_.push_back(decompress_shard(packed, path));  // in load_corpus itself: the CPU side of a load
    bytes_ += shards_.back().size();
  }
  for (const auto& p : index.pages) {
    if (p.shard >= shards_.size() || p.offset + p.length > shards_[p.shard].size())
      throw std::runtime_error("corpus index points past the end of " + index.shard_paths.at(p.shard) +
                               " (page " + std::to_string(p.id) + "): regenerate by deleting " + index.dir);
  }
}

std::string_view CorpusStore::page(std::size_t i) const {
  const PageRef& p = index_->pages[i];
  return std::string_view(shards_[p.shard]).substr(p.offset, p.length);
}

}  // namespace seo
