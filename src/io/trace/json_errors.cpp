#include "io/trace/json_errors.hpp"

namespace codeprof::io::trace {

std::string json_error_text(simdjson::error_code error) {
  switch (error) {
    case simdjson::CAPACITY:
      return "a value too large to parse in one piece";
    case simdjson::MEMALLOC:
      return "not enough memory to parse it";
    case simdjson::TAPE_ERROR:
      return "a comma, colon, brace or bracket is missing or extra";
    case simdjson::INCOMPLETE_ARRAY_OR_OBJECT:
      return "the text ends inside an object or array";
    case simdjson::DEPTH_ERROR:
      return "nested deeper than 1024 levels";
    case simdjson::STRING_ERROR:
      return "a malformed string (bad escape)";
    case simdjson::UNESCAPED_CHARS:
      return "a control character inside a string (it must be escaped)";
    case simdjson::UNCLOSED_STRING:
      return "a string that is never closed";
    case simdjson::T_ATOM_ERROR:
    case simdjson::F_ATOM_ERROR:
    case simdjson::N_ATOM_ERROR:
      return "a bare word other than true, false or null";
    case simdjson::NUMBER_ERROR:
      return "a malformed number";
    case simdjson::NUMBER_OUT_OF_RANGE:
      return "a number beyond 64 bits";
    case simdjson::UTF8_ERROR:
      return "bytes that are not UTF-8";
    case simdjson::EMPTY:
      return "nothing where a value belongs";
    case simdjson::INCORRECT_TYPE:
      return "a value of another type";
    case simdjson::INDEX_OUT_OF_BOUNDS:
    case simdjson::NO_SUCH_FIELD:
      return "a value is missing";
    case simdjson::IO_ERROR:
      return "a read error";
    case simdjson::TRAILING_CONTENT:
      return "more text after the end of the value";
    case simdjson::SCALAR_DOCUMENT_AS_VALUE:
      return "a single value where an object or array belongs";
    default:
      return "an error the parser could not name (code " + std::to_string(static_cast<int>(error)) + ")";
  }
}

}  // namespace codeprof::io::trace
