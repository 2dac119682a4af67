#pragma once
// HTML clean-up: the visible text of a page plus the structural facts SEO cares about, in one pass.
#include <string>
#include <string_view>

namespace seo {

struct ParsedPage {
  std::string title;
  std::string description;  // <meta name="description" content="...">, empty when absent
  std::string text;         // visible text (title, headings, paragraphs), entities decoded, spaces collapsed
  int h1 = 0;
  int h2 = 0;
  int internal_links = 0;   // href starting with '/'
  int external_links = 0;   // href with a scheme
  int broken_links = 0;     // href="#" or empty
  int images = 0;
  int images_without_alt = 0;
};

// Tolerant of malformed markup: an unterminated tag or comment ends the document.
ParsedPage parse_html(std::string_view html);

// Decodes the named entities that pages commonly carry and numeric ones (&#39;, &#x27;).
void append_decoded(std::string& out, std::string_view text);

}  // namespace seo
