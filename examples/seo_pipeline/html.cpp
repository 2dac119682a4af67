#include "html.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <utility>

namespace seo {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

// Value of attribute `name` inside a tag's text (between '<' and '>'); nullopt-like empty + found flag.
std::pair<bool, std::string_view> attribute(std::string_view tag, std::string_view name) {
  std::size_t pos = 0;
  while ((pos = tag.find(name, pos)) != std::string_view::npos) {
    const bool boundary = pos > 0 && std::isspace(static_cast<unsigned char>(tag[pos - 1]));
    std::size_t p = pos + name.size();
    if (boundary && p < tag.size() && tag[p] == '=') {
      ++p;
      if (p < tag.size() && (tag[p] == '"' || tag[p] == '\'')) {
        const char quote = tag[p];
        const std::size_t end = tag.find(quote, p + 1);
        if (end == std::string_view::npos) return {true, tag.substr(p + 1)};
        return {true, tag.substr(p + 1, end - p - 1)};
      }
      std::size_t end = p;
      while (end < tag.size() && !std::isspace(static_cast<unsigned char>(tag[end])) && tag[end] != '>') ++end;
      return {true, tag.substr(p, end - p)};
    }
    pos = p;
  }
  return {false, {}};
}

constexpr bool is_space(char c) noexcept { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

void append_space(std::string& out) {
  if (!out.empty() && out.back() != ' ') out += ' ';
}

// Appends text with runs of whitespace collapsed to one space, a run of other bytes at a time.
void append_collapsed(std::string& out, std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    if (is_space(text[i])) {
      append_space(out);
      while (i < text.size() && is_space(text[i])) ++i;
      continue;
    }
    const std::size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    out.append(text.data() + start, i - start);
  }
}

enum class Tag { Other, Script, Style, Title, H1, H2, A, Img, Meta, Block };

// The tag's name, lower-cased, mapped to what the parser cares about.
Tag classify(std::string_view name) {
  char lower[8];
  if (name.empty() || name.size() > sizeof lower) return Tag::Other;
  for (std::size_t i = 0; i < name.size(); ++i)
    lower[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(name[i])));
  const std::string_view n(lower, name.size());
  if (n == "a") return Tag::A;
  if (n == "p" || n == "br" || n == "li" || n == "div" || n == "nav" || n == "footer") return Tag::Block;
  if (n == "h1") return Tag::H1;
  if (n == "h2") return Tag::H2;
  if (n == "img") return Tag::Img;
  if (n == "meta") return Tag::Meta;
  if (n == "title") return Tag::Title;
  if (n == "script") return Tag::Script;
  if (n == "style") return Tag::Style;
  return Tag::Other;
}

}  // namespace

void append_decoded(std::string& out, std::string_view text) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 9> kNamed = {{
      {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"},
      {"nbsp", " "}, {"copy", "(c)"}, {"middot", "-"}, {"mdash", "-"},
  }};
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t amp = text.find('&', i);
    if (amp == std::string_view::npos) {
      append_collapsed(out, text.substr(i));
      break;
    }
    append_collapsed(out, text.substr(i, amp - i));
    const std::size_t semi = text.find(';', amp);
    if (semi == std::string_view::npos || semi - amp > 10) {
      out += '&';
      i = amp + 1;
      continue;
    }
    const std::string_view entity = text.substr(amp + 1, semi - amp - 1);
    bool decoded = false;
    if (!entity.empty() && entity[0] == '#') {
      const bool hex = entity.size() > 1 && (entity[1] == 'x' || entity[1] == 'X');
      const std::string_view digits = entity.substr(hex ? 2 : 1);
      unsigned value = 0;
      const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, hex ? 16 : 10);
      if (ec == std::errc() && ptr == digits.data() + digits.size() && value > 0 && value < 128) {
        const char c = static_cast<char>(value);
        append_collapsed(out, std::string_view(&c, 1));
        decoded = true;
      }
    } else {
      for (const auto& [name, value] : kNamed) {
        if (entity == name) {
          append_collapsed(out, value);
          decoded = true;
          break;
        }
      }
    }
    if (!decoded) append_collapsed(out, text.substr(amp, semi - amp + 1));
    i = semi + 1;
  }
}

ParsedPage parse_html(std::string_view html) {
  ParsedPage page;
  page.text.reserve(html.size() / 2);
  enum class Field { Body, Title } field = Field::Body;
  std::size_t i = 0;
  while (i < html.size()) {
    const std::size_t lt = html.find('<', i);
    const std::string_view text = html.substr(i, lt == std::string_view::npos ? std::string_view::npos : lt - i);
    if (!text.empty()) {
      if (field == Field::Title) append_decoded(page.title, text);
      append_decoded(page.text, text);
    }
    if (lt == std::string_view::npos) break;
    if (html.compare(lt, 4, "<!--") == 0) {
      const std::size_t end = html.find("-->", lt + 4);
      if (end == std::string_view::npos) break;
      i = end + 3;
      continue;
    }
    const std::size_t gt = html.find('>', lt);
    if (gt == std::string_view::npos) break;
    const std::string_view tag = html.substr(lt + 1, gt - lt - 1);
    i = gt + 1;

    const bool closing = !tag.empty() && tag[0] == '/';
    std::size_t name_end = closing ? 1 : 0;
    while (name_end < tag.size() && std::isalnum(static_cast<unsigned char>(tag[name_end]))) ++name_end;
    const std::string_view name = tag.substr(closing ? 1 : 0, name_end - (closing ? 1 : 0));
    const Tag kind = classify(name);

    if (!closing && (kind == Tag::Script || kind == Tag::Style)) {
      // Skip the element's content: it is not visible text.
      const std::string close = "</" + std::string(name);
      std::size_t end = i;
      while ((end = html.find("</", end)) != std::string_view::npos && !iequals(html.substr(end, close.size()), close))
        end += 2;
      if (end == std::string_view::npos) break;
      const std::size_t close_gt = html.find('>', end);
      if (close_gt == std::string_view::npos) break;
      i = close_gt + 1;
      continue;
    }
    switch (kind) {
      case Tag::Title:
        field = closing ? Field::Body : Field::Title;
        append_space(page.text);
        break;
      case Tag::H1:
        if (!closing) ++page.h1;
        append_space(page.text);
        break;
      case Tag::H2:
        if (!closing) ++page.h2;
        append_space(page.text);
        break;
      case Tag::Block:
        append_space(page.text);
        break;
      case Tag::A:
        if (!closing) {
          const auto [found, href] = attribute(tag, "href");
          if (!found || href.empty() || href == "#") {
            ++page.broken_links;
          } else if (href[0] == '/') {
            ++page.internal_links;
          } else if (href.find("://") != std::string_view::npos) {
            ++page.external_links;
          }
        }
        break;
      case Tag::Img:
        if (!closing) {
          ++page.images;
          const auto [found, alt] = attribute(tag, "alt");
          if (!found || alt.empty()) ++page.images_without_alt;
        }
        break;
      case Tag::Meta:
        if (!closing) {
          const auto [has_name, meta_name] = attribute(tag, "name");
          if (has_name && iequals(meta_name, "description")) {
            const auto [has_content, content] = attribute(tag, "content");
            if (has_content) append_decoded(page.description, content);
          }
        }
        break;
      default:
        break;
    }
  }
  while (!page.text.empty() && page.text.back() == ' ') page.text.pop_back();
  if (!page.text.empty() && page.text.front() == ' ') page.text.erase(0, 1);
  return page;
}

}  // namespace seo
