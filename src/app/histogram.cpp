#include "app/histogram.h"

#include <charconv>
#include <chrono>

namespace parley {

namespace {

std::atomic<size_t> next_shard{0};

void append_number(std::string& out, double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest form that reads back the same
  out.append(buf, r.ptr);
}

}  // namespace

Histogram::Histogram(std::vector<uint64_t> bounds, double unit) : unit_(unit) {
  n_ = std::min(bounds.size(), kMaxBuckets);
  for (size_t i = 0; i < n_; ++i) bounds_[i] = bounds[i];
}

size_t Histogram::shard_index() {
  // Taken once per thread, round robin: the workers, the storage threads and the Kafka threads
  // of one process are fewer than kShards, so each writes cache lines no other thread does.
  thread_local const size_t index = next_shard.fetch_add(1, std::memory_order_relaxed) % kShards;
  return index;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  std::array<uint64_t, kMaxBuckets + 1> per{};
  for (const Shard& shard : shards_) {
    for (size_t i = 0; i <= n_; ++i) per[i] += shard.buckets[i].load(std::memory_order_relaxed);
    s.sum += shard.sum.load(std::memory_order_relaxed);
  }
  // Cumulative from the same loads: +Inf is exactly the count, whatever raced the scrape.
  s.cumulative.resize(n_ + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= n_; ++i) {
    running += per[i];
    s.cumulative[i] = running;
  }
  s.count = running;
  return s;
}

void Histogram::render(std::string& out, std::string_view name, std::string_view labels) const {
  Snapshot s = snapshot();
  auto line = [&](std::string_view suffix, std::string_view le, double value) {
    out.append(name).append(suffix);
    if (!labels.empty() || !le.empty()) {
      out.push_back('{');
      out.append(labels);
      if (!le.empty()) {
        if (!labels.empty()) out.push_back(',');
        out.append("le=\"").append(le).push_back('"');
      }
      out.push_back('}');
    }
    out.push_back(' ');
    append_number(out, value);
    out.push_back('\n');
  };
  for (size_t i = 0; i <= n_; ++i) {
    std::string le = "+Inf";
    if (i < n_) {
      le.clear();
      append_number(le, static_cast<double>(bounds_[i]) / unit_);
    }
    line("_bucket", le, static_cast<double>(s.cumulative[i]));
  }
  line("_sum", {}, static_cast<double>(s.sum) / unit_);
  line("_count", {}, static_cast<double>(s.count));
}

std::vector<uint64_t> Histogram::one_two_five(uint64_t lo, uint64_t hi) {
  std::vector<uint64_t> bounds;
  for (uint64_t decade = 1; decade <= hi; decade *= 10) {
    for (uint64_t m : {1, 2, 5}) {
      uint64_t b = m * decade;
      if (b >= lo && b <= hi) bounds.push_back(b);
    }
    if (decade > hi / 10) break;
  }
  return bounds;
}

void histogram_header(std::string& out, std::string_view name, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ");
  out.append(name).append(" histogram\n");
}

int64_t monotonic_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace parley
