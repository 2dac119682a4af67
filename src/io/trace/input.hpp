#pragma once
// Byte sources for the trace reader: a plain file, gzip data (file or memory, detected by its
// magic bytes, multi-member streams included) or bytes already in memory. Errors carry the file
// name and say what was wrong; I/O and gzip errors are thrown as TraceReadError.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace codeprof::io::trace {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `n` bytes into `dst`; returns how many (0 only at the end of the data).
  virtual std::size_t read(char* dst, std::size_t n) = 0;
  // Input consumed so far and its total size (compressed bytes for gzip), for progress display.
  virtual std::uint64_t consumed() const noexcept = 0;
  virtual std::uint64_t total() const noexcept = 0;
};

inline bool is_gzip_magic(std::string_view head) noexcept {
  return head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0x1f && static_cast<unsigned char>(head[1]) == 0x8b;
}

// Gzip data at least this large (compressed) is inflated on a second thread, ahead of the parser.
inline constexpr std::uint64_t kReadAheadFrom = std::uint64_t{256} << 10;

// Opens `path`; gzip data is inflated transparently. `name` appears in errors.
std::unique_ptr<ByteSource> open_file_source(const std::string& path);
// The same over a file descriptor already open (any kind: regular file, FIFO, pipe, terminal);
// the source owns it and closes it. Nothing is ever opened twice, so a pipe or a process
// substitution (<(cat r.json)) reads like a file.
std::unique_ptr<ByteSource> open_descriptor_source(int fd, const std::string& name);
// Reads from memory (not copied: `bytes` must outlive the source); gzip data is inflated.
std::unique_ptr<ByteSource> open_memory_source(std::string_view bytes, const std::string& name);

// Reads up to `n` bytes from the start of a source (fewer at its end), to tell its format.
std::string read_head(ByteSource& source, std::size_t n);
// A source that yields `head` and then the rest of `rest`: the head read above, put back.
std::unique_ptr<ByteSource> with_head(std::string head, std::unique_ptr<ByteSource> rest);

}  // namespace codeprof::io::trace
