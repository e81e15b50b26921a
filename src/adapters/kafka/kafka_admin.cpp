#include "adapters/kafka/kafka_admin.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

namespace parley {

namespace {

struct AdminOptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
};
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* m) const { rd_kafka_metadata_destroy(m); }
};
using MetadataPtr = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;

KafkaHandlePtr admin_handle(const KafkaOptions& options) {
  // A producer handle serves the admin API. No auto-creation: metadata requests must never
  // create a topic with the broker's defaults behind ensure_topics' back.
  auto conf =
      make_kafka_conf(options, KafkaClientKind::admin, {{"allow.auto.create.topics", "false"}});
  return make_kafka_handle(RD_KAFKA_PRODUCER, std::move(conf));
}

MetadataPtr all_metadata(rd_kafka_t* rk, int timeout_ms) {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &md, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(std::string("kafka metadata: ") + rd_kafka_err2str(err));
  }
  return MetadataPtr(md);
}

std::map<std::string, int> partitions_of(const rd_kafka_metadata_t* md,
                                         const std::vector<std::string>& names) {
  std::map<std::string, int> out;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    if (std::find(names.begin(), names.end(), t.topic) != names.end()) {
      out[t.topic] = t.partition_cnt;
    }
  }
  return out;
}

// How many of @p names exist with a leader for every partition (usable right now).
size_t ready_count(const rd_kafka_metadata_t* md, const std::vector<std::string>& names) {
  size_t n = 0;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const auto& t = md->topics[i];
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR || t.partition_cnt == 0) continue;
    if (std::find(names.begin(), names.end(), t.topic) == names.end()) continue;
    bool led = true;
    for (int p = 0; p < t.partition_cnt; ++p) {
      if (t.partitions[p].err != RD_KAFKA_RESP_ERR_NO_ERROR || t.partitions[p].leader < 0) {
        led = false;
      }
    }
    n += led;
  }
  return n;
}

std::vector<std::string> topic_names(const KafkaOptions& o) {
  return {o.messages(), o.results(), o.events(), o.dlq()};
}

// Waits for one admin result event on @p queue.
std::unique_ptr<rd_kafka_event_t, EventDeleter> wait_event(rd_kafka_queue_t* queue,
                                                           int timeout_ms) {
  std::unique_ptr<rd_kafka_event_t, EventDeleter> ev(rd_kafka_queue_poll(queue, timeout_ms));
  if (!ev) throw std::runtime_error("kafka admin: no answer in time");
  if (rd_kafka_event_error(ev.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(std::string("kafka admin: ") + rd_kafka_event_error_string(ev.get()));
  }
  return ev;
}

}  // namespace

namespace {

// CreateTopics for @p missing; TOPIC_ALREADY_EXISTS (another instance raced us) is fine.
void create(rd_kafka_t* rk, const KafkaOptions& options, const std::vector<std::string>& missing,
            int brokers, const std::function<int()>& left) {
  if (rd_kafka_controllerid(rk, std::min(left(), 5000)) < 0) {
    throw std::runtime_error(
        "kafka: topics missing and the cluster names no controller to create them (librdkafka's "
        "mock cluster has no CreateTopics: create them there, as `parley kafka-mock` does)");
  }
  const int rf = options.replication > 0 ? options.replication : std::min(3, std::max(1, brokers));
  const std::string min_isr = std::to_string(std::min(2, rf));

  char err[512];
  std::vector<rd_kafka_NewTopic_t*> topics;
  auto destroy_topics = [&] { rd_kafka_NewTopic_destroy_array(topics.data(), topics.size()); };
  for (const auto& name : missing) {
    rd_kafka_NewTopic_t* t =
        rd_kafka_NewTopic_new(name.c_str(), options.partitions, rf, err, sizeof err);
    if (t == nullptr) {
      destroy_topics();
      throw std::runtime_error("kafka: topic " + name + ": " + err);
    }
    topics.push_back(t);
    rd_kafka_NewTopic_set_config(t, "min.insync.replicas", min_isr.c_str());
    if (name == options.messages()) {
      // The fold's clock: the broker's append time decides ttl, never a producer's clock.
      rd_kafka_NewTopic_set_config(t, "message.timestamp.type", "LogAppendTime");
    } else if (name == options.results()) {
      rd_kafka_NewTopic_set_config(t, "retention.ms", "600000");
    } else if (name == options.events()) {
      rd_kafka_NewTopic_set_config(t, "retention.ms", "60000");
    }
  }
  std::unique_ptr<rd_kafka_AdminOptions_t, AdminOptionsDeleter> admin_options(
      rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS));
  // A broker answers CreateTopics in well under a second; what does not answer in 10 s has no
  // CreateTopics (librdkafka's mock cluster): the caller then falls back to auto-creation.
  const int wait_ms = std::min(left(), 10000);
  rd_kafka_AdminOptions_set_operation_timeout(admin_options.get(), wait_ms, err, sizeof err);
  rd_kafka_AdminOptions_set_request_timeout(admin_options.get(), wait_ms, err, sizeof err);
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(rk));
  rd_kafka_CreateTopics(rk, topics.data(), topics.size(), admin_options.get(), queue.get());
  destroy_topics();

  auto ev = wait_event(queue.get(), wait_ms + 1000);
  const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev.get());
  if (res == nullptr) throw std::runtime_error("kafka CreateTopics: unexpected answer");
  size_t n = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
  for (size_t i = 0; i < n; ++i) {
    rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
    const char* name = rd_kafka_topic_result_name(results[i]);
    if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) continue;  // another instance raced us
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* why = rd_kafka_topic_result_error_string(results[i]);
      throw std::runtime_error(std::string("kafka: create topic ") + name + ": " +
                               (why ? why : rd_kafka_err2str(e)));
    }
    spdlog::info("kafka: created topic {} ({} partitions, replication {})", name,
                 options.partitions, rf);
  }
}

// The topics a cluster without CreateTopics (librdkafka's mock) makes on first mention: a
// metadata request for each from a handle that allows it. They get the cluster's defaults (the
// mock: 4 partitions), which is good enough where there is no CreateTopics to ask for more.
void auto_create(const KafkaOptions& options, const std::vector<std::string>& missing,
                 const std::function<int()>& left) {
  auto conf = make_kafka_conf(options, KafkaClientKind::admin, {});
  auto rk = make_kafka_handle(RD_KAFKA_PRODUCER, std::move(conf));
  for (const auto& name : missing) {
    std::unique_ptr<rd_kafka_topic_t, void (*)(rd_kafka_topic_t*)> topic(
        rd_kafka_topic_new(rk.get(), name.c_str(), nullptr), rd_kafka_topic_destroy);
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk.get(), 0, topic.get(), &md, std::min(left(), 5000)) ==
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_metadata_destroy(md);
    }
    spdlog::warn("kafka: topic {} left to the cluster's auto-creation (no CreateTopics)", name);
  }
}

}  // namespace

std::map<std::string, int> describe(const KafkaOptions& options, int timeout_ms) {
  auto rk = admin_handle(options);
  auto md = all_metadata(rk.get(), timeout_ms);
  return partitions_of(md.get(), topic_names(options));
}

void ensure_topics(const KafkaOptions& options, int timeout_ms) {
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto left = [&] {
    return std::max<int>(1, static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 deadline - Clock::now())
                                                 .count()));
  };
  auto rk = admin_handle(options);
  auto names = topic_names(options);
  auto md = all_metadata(rk.get(), left());
  auto existing = partitions_of(md.get(), names);
  if (auto it = existing.find(options.messages());
      it != existing.end() && it->second != options.partitions) {
    spdlog::warn("kafka: {} has {} partitions, not {}: left as it is", it->first, it->second,
                 options.partitions);
  }
  std::vector<std::string> missing;
  for (const auto& n : names) {
    if (!existing.count(n)) missing.push_back(n);
  }
  if (!missing.empty()) {
    try {
      create(rk.get(), options, missing, md->broker_cnt, left);
    } catch (const std::exception& e) {
      // Only a cluster that never answers for a controller (the mock) is left to auto-creation:
      // a real broker's refusal (authorization, policy) stands, since auto-created topics lack
      // the messages topic's LogAppendTime that the fold's ttl rule needs.
      if (Clock::now() >= deadline ||
          std::string(e.what()).find("controller") == std::string::npos) {
        throw;
      }
      spdlog::warn("{}; trying auto-creation", e.what());
      auto_create(options, missing, left);
    }
  }

  // The controller answered; the brokers learn of the topics and elect leaders a little later.
  while (ready_count(all_metadata(rk.get(), left()).get(), names) < names.size()) {
    if (Clock::now() >= deadline) {
      throw std::runtime_error("kafka: topics without a leader for every partition in time");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::map<std::string, std::string> describe_topic_config(const KafkaOptions& options,
                                                         const std::string& topic, int timeout_ms) {
  auto rk = admin_handle(options);
  char err[512];
  rd_kafka_ConfigResource_t* resource =
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  std::unique_ptr<rd_kafka_AdminOptions_t, AdminOptionsDeleter> admin_options(
      rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS));
  rd_kafka_AdminOptions_set_request_timeout(admin_options.get(), timeout_ms, err, sizeof err);
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(rk.get()));
  rd_kafka_DescribeConfigs(rk.get(), &resource, 1, admin_options.get(), queue.get());
  rd_kafka_ConfigResource_destroy(resource);
  auto ev = wait_event(queue.get(), timeout_ms);
  const rd_kafka_DescribeConfigs_result_t* res = rd_kafka_event_DescribeConfigs_result(ev.get());
  if (res == nullptr) throw std::runtime_error("kafka DescribeConfigs: unexpected answer");
  size_t n = 0;
  const rd_kafka_ConfigResource_t** resources = rd_kafka_DescribeConfigs_result_resources(res, &n);
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < n; ++i) {
    if (rd_kafka_ConfigResource_error(resources[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw std::runtime_error(std::string("kafka DescribeConfigs ") + topic + ": " +
                               rd_kafka_ConfigResource_error_string(resources[i]));
    }
    size_t cnt = 0;
    const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(resources[i], &cnt);
    for (size_t j = 0; j < cnt; ++j) {
      const char* v = rd_kafka_ConfigEntry_value(entries[j]);
      out[rd_kafka_ConfigEntry_name(entries[j])] = v ? v : "";
    }
  }
  return out;
}

}  // namespace parley
