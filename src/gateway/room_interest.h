#pragma once
// Which rooms may have a subscriber on one worker: a counting filter the log's thread reads
// without a lock before it encodes a message and wakes the worker. A room whose slot counts zero
// certainly has no subscriber there, so an instance pays nothing per message for the rooms no
// client of it joined (docs/scaling.md, "What an instance pays for rooms it does not serve").
// Two rooms may share a slot: then a message is posted for nothing, as before the filter.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

namespace parley {

class RoomInterest {
 public:
  static constexpr size_t kSlots = size_t{1} << 14;

  RoomInterest() : counts_(std::make_unique<std::atomic<uint32_t>[]>(kSlots)) {}

  // On the worker. The fence orders the count before the head the joiner reads next, so that
  // either the publisher sees the count or the joiner's head covers the message (see join).
  void add(std::string_view room) {
    counts_[slot(room)].fetch_add(1, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  void remove(std::string_view room) {
    counts_[slot(room)].fetch_sub(1, std::memory_order_seq_cst);
  }
  /// False: no subscriber for @p room on this worker. From any thread, after a seq_cst fence.
  bool maybe(std::string_view room) const {
    return counts_[slot(room)].load(std::memory_order_relaxed) != 0;
  }

 private:
  static size_t slot(std::string_view room) {
    return std::hash<std::string_view>{}(room) & (kSlots - 1);
  }

  std::unique_ptr<std::atomic<uint32_t>[]> counts_;
};

}  // namespace parley
