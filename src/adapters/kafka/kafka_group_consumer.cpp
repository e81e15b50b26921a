#include "adapters/kafka/kafka_group_consumer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "adapters/kafka/consumer_util.h"

namespace parley {

namespace {

std::vector<int32_t> partitions_of(const rd_kafka_topic_partition_list_t* list) {
  std::vector<int32_t> out;
  for (int i = 0; i < list->cnt; ++i) out.push_back(list->elems[i].partition);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

KafkaGroupConsumer::KafkaGroupConsumer(const KafkaOptions& options, std::string topic,
                                       std::string group, GroupCallbacks callbacks)
    : topic_(std::move(topic)), mac_(options.mac), callbacks_(std::move(callbacks)) {
  auto conf = make_kafka_conf(options, KafkaClientKind::consumer,
                              {{"group.id", group},
                               {"session.timeout.ms", "6000"},
                               {"heartbeat.interval.ms", "1000"},
                               {"enable.auto.commit", "false"},
                               {"enable.auto.offset.store", "false"},
                               {"auto.offset.reset", "earliest"},
                               // The persister writes batches: one fetch per 256 KB or 100 ms,
                               // not one per record (a quarter of its CPU per message).
                               {"fetch.min.bytes", "262144"},
                               {"fetch.wait.max.ms", "100"}});
  rd_kafka_conf_set_rebalance_cb(conf.get(), &KafkaGroupConsumer::on_rebalance);
  rd_kafka_conf_set_opaque(conf.get(), this);
  rk_ = make_kafka_handle(RD_KAFKA_CONSUMER, std::move(conf));
  rd_kafka_poll_set_consumer(rk_.get());
  KafkaPartitionListPtr topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), topic_.c_str(), RD_KAFKA_PARTITION_UA);
  if (rd_kafka_resp_err_t err = rd_kafka_subscribe(rk_.get(), topics.get())) {
    throw std::runtime_error("kafka group consumer: subscribe " + topic_ + ": " +
                             rd_kafka_err2str(err));
  }
}

KafkaGroupConsumer::~KafkaGroupConsumer() {
  close();
}

void KafkaGroupConsumer::on_rebalance(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
                                      rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  static_cast<KafkaGroupConsumer*>(opaque)->rebalance(err, partitions);
}

void KafkaGroupConsumer::rebalance(rd_kafka_resp_err_t err,
                                   rd_kafka_topic_partition_list_t* partitions) {
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk_.get()), "COOPERATIVE") == 0;
  std::vector<int32_t> ps = partitions_of(partitions);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    std::map<int32_t, int64_t> start;
    if (callbacks_.on_assigned) start = callbacks_.on_assigned(ps);
    for (int i = 0; i < partitions->cnt; ++i) {
      auto it = start.find(partitions->elems[i].partition);
      // INVALID: the committed offset, else auto.offset.reset.
      partitions->elems[i].offset = it != start.end() ? it->second : RD_KAFKA_OFFSET_INVALID;
    }
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (cooperative) {
      rd_kafka_error_t* error = rd_kafka_incremental_assign(rk_.get(), partitions);
      if (error != nullptr) {
        spdlog::error("kafka group {}: incremental assign: {}", topic_,
                      rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
      }
      for (int32_t p : ps) assigned_.push_back(p);
    } else {
      e = rd_kafka_assign(rk_.get(), partitions);
      assigned_ = ps;
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::error("kafka group {}: assign: {}", topic_, rd_kafka_err2str(e));
    }
    std::sort(assigned_.begin(), assigned_.end());
    spdlog::info("kafka group {}: assigned {} partition(s)", topic_, ps.size());
  } else {
    // Revoked (or the assignment was lost): the owner drops the partitions first, and the
    // records of theirs that this poll() already took go too: folded now, they would be folded
    // on a state the owner no longer has (or on the new owner's behalf).
    std::erase_if(collecting_, [&](const Consumed& c) {
      return std::binary_search(ps.begin(), ps.end(), c.partition);
    });
    if (callbacks_.on_revoked) callbacks_.on_revoked(ps);
    if (cooperative) {
      rd_kafka_error_t* error = rd_kafka_incremental_unassign(rk_.get(), partitions);
      if (error != nullptr) rd_kafka_error_destroy(error);
      std::erase_if(assigned_,
                    [&](int32_t p) { return std::find(ps.begin(), ps.end(), p) != ps.end(); });
    } else {
      rd_kafka_assign(rk_.get(), nullptr);
      assigned_.clear();
    }
    spdlog::info("kafka group {}: revoked {} partition(s)", topic_, ps.size());
  }
  rebalanced_ = true;
}

std::vector<Consumed> KafkaGroupConsumer::poll(int timeout_ms, size_t max) {
  collecting_.clear();
  if (closed_) return {};
  rebalanced_ = false;
  rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), timeout_ms);
  for (;;) {
    if (m != nullptr) {
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        collecting_.push_back(kafka_detail::to_consumed(m, mac_.get(), topic_));
      } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        spdlog::warn("kafka group {}: {}", topic_, rd_kafka_message_errstr(m));
      }
      rd_kafka_message_destroy(m);
    }
    // One assignment per batch: after a rebalance the owner's state changed under it.
    if (m == nullptr || rebalanced_ || collecting_.size() >= max) break;
    m = rd_kafka_consumer_poll(rk_.get(), 0);
  }
  return std::exchange(collecting_, {});
}

int64_t KafkaGroupConsumer::high_watermark(int32_t partition) const {
  int64_t low = 0;
  int64_t high = -1;
  if (rd_kafka_get_watermark_offsets(rk_.get(), topic_.c_str(), partition, &low, &high) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return -1;
  }
  return high;
}

Status KafkaGroupConsumer::seek(int32_t partition, int64_t offset) {
  KafkaPartitionListPtr list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), partition)->offset = offset;
  rd_kafka_error_t* error = rd_kafka_seek_partitions(rk_.get(), list.get(), 5000);
  rd_kafka_resp_err_t err = error != nullptr ? rd_kafka_error_code(error) : list->elems[0].err;
  if (error != nullptr) rd_kafka_error_destroy(error);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return make_error(Errc::unavailable, std::string("kafka seek: ") + rd_kafka_err2str(err));
  }
  return Ok{};
}

Status KafkaGroupConsumer::commit(const std::map<int32_t, int64_t>& next_offsets) {
  if (next_offsets.empty()) return Ok{};
  KafkaPartitionListPtr list(
      rd_kafka_topic_partition_list_new(static_cast<int>(next_offsets.size())));
  for (const auto& [p, offset] : next_offsets) {
    rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), p)->offset = offset;
  }
  rd_kafka_resp_err_t err = rd_kafka_commit(rk_.get(), list.get(), 0 /* synchronous */);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < list->cnt; ++i) {
      if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) err = list->elems[i].err;
    }
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return make_error(Errc::unavailable, std::string("kafka commit: ") + rd_kafka_err2name(err) +
                                             ": " + rd_kafka_err2str(err));
  }
  return Ok{};
}

void KafkaGroupConsumer::close() {
  if (closed_) return;
  closed_ = true;
  rd_kafka_consumer_close(rk_.get());  // runs the revoke callback
}

}  // namespace parley
