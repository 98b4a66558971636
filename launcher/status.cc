#include "status.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>

#include "env_codec.h"

namespace huptime {
namespace {

bool shell_safe(const std::string& arg) {
  if (arg.empty()) return false;
  return std::all_of(arg.begin(), arg.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || std::strchr("_./:=+,@%-", c) != nullptr;
  });
}

std::string shell_quote(const std::string& arg) {
  if (shell_safe(arg)) return arg;
  std::string quoted = "'";
  for (char c : arg) {
    if (c == '\'')
      quoted += "'\\''";
    else
      quoted += c;
  }
  return quoted + "'";
}

// The NUL-terminated last_error, bounded by its array.
std::string read_error(const ServiceShared* page) {
  const char* text = page->last_error;
  return std::string(text, strnlen(text, ServiceShared::kErrorSize));
}

GenerationRow make_row(const GenShared* page, std::vector<pid_t> pids,
                       int64_t now_ms) {
  GenerationRow row;
  row.generation = page->generation.load(std::memory_order_acquire);
  row.root_pid = page->root_pid.load(std::memory_order_acquire);
  if (page->draining.load(std::memory_order_acquire))
    row.phase = GenPhase::kDraining;
  else if (page->ready.load(std::memory_order_acquire))
    row.phase = GenPhase::kReady;
  row.age_ms = std::max<int64_t>(
      0, now_ms - page->started_ms.load(std::memory_order_acquire));
  std::sort(pids.begin(), pids.end());
  for (const ProcSlot& slot : page->slots) {
    pid_t pid = slot.pid.load(std::memory_order_acquire);
    if (pid != 0 && std::binary_search(pids.begin(), pids.end(), pid))
      row.conns += slot.conns.load(std::memory_order_acquire);
  }
  row.pids = std::move(pids);
  return row;
}

const char* phase_name(GenPhase phase) {
  switch (phase) {
    case GenPhase::kReady:
      return "ready";
    case GenPhase::kDraining:
      return "draining";
    default:
      return "starting";
  }
}

std::string age_text(int64_t ms) {
  return std::to_string(ms / 1000) + "." + std::to_string(ms % 1000 / 100) +
         "s";
}

std::string join_pids(const std::vector<pid_t>& pids) {
  std::string text;
  for (pid_t pid : pids) {
    if (!text.empty()) text += ',';
    text += std::to_string(pid);
  }
  return text;
}

// Lays out `cells` (the header row first) in columns at least `min_widths`
// wide and two spaces apart; the last column is not padded.
std::string table(const std::vector<std::vector<std::string>>& cells,
                  std::vector<size_t> widths) {
  for (const auto& row : cells)
    for (size_t i = 0; i + 1 < row.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size() + 2);
  std::string text;
  for (const auto& row : cells) {
    for (size_t i = 0; i < row.size(); ++i) {
      text += row[i];
      if (i + 1 < row.size()) text.append(widths[i] - row[i].size(), ' ');
    }
    text += '\n';
  }
  return text;
}

}  // namespace

std::string shell_join(const std::vector<std::string>& argv) {
  std::string text;
  for (const std::string& arg : argv) {
    if (!text.empty()) text += ' ';
    text += shell_quote(arg);
  }
  return text;
}

std::string last_restart_text(const StatusReport& report) {
  if (report.begun != report.ended) return "in progress";
  if (report.ended == 0) return "none";
  if (report.last_ok) return "ok";
  return "failed: " +
         (report.last_error.empty() ? "unknown reason" : report.last_error);
}

StatusReport collect_status(const ServicePage& service,
                            const std::vector<ProcessMemfds>& members,
                            int64_t now_ms) {
  const ServiceShared* page = service.page();
  StatusReport report;
  report.argv =
      decode_list(service.argv_bytes()).value_or(std::vector<std::string>{});
  report.mode = page->mode.load(std::memory_order_acquire) == 1 ? Mode::kExec
                                                                : Mode::kFork;
  report.restart_signal = page->restart_signal.load(std::memory_order_acquire);
  report.master_pid = page->master_pid.load(std::memory_order_acquire);
  report.begun = page->begun.load(std::memory_order_acquire);
  report.ended = page->ended.load(std::memory_order_acquire);
  report.failed = page->failed.load(std::memory_order_acquire);
  report.last_ok = page->last_ok.load(std::memory_order_acquire) != 0;
  report.last_error = read_error(page);
  report.owed = page->pending.load(std::memory_order_acquire) != 0;

  GenerationPages pages;
  map_generation_pages(members, &pages);
  std::map<FileId, std::vector<pid_t>> groups;
  for (const ProcessMemfds& member : members)
    if (std::optional<FileId> id = generation_of(member, pages))
      groups[*id].push_back(member.pid);
  for (auto& [id, pids] : groups)
    report.rows.push_back(
        make_row(gen_page(pages.at(id)), std::move(pids), now_ms));
  std::sort(report.rows.begin(), report.rows.end(),
            [](const GenerationRow& a, const GenerationRow& b) {
              return a.generation < b.generation;
            });
  return report;
}

std::string format_status(const StatusReport& report) {
  std::string text = "service: ";
  text += report.argv.empty() ? "?" : shell_join(report.argv);
  text += "   (mode ";
  text += report.master_pid > 0
              ? "master, pid " + std::to_string(report.master_pid)
              : std::string(mode_name(report.mode));
  text += ", restart signal " + signal_name(report.restart_signal) + ")\n";
  text += "restarts: " + std::to_string(report.begun) + " begun, " +
          std::to_string(report.ended) + " ended, " +
          std::to_string(report.failed) +
          " failed; last: " + last_restart_text(report) +
          (report.owed ? "; one more owed" : "") + "\n";
  std::vector<std::vector<std::string>> cells = {
      {"GEN", "PID", "STATE", "AGE", "CONNS", "PROCS", "PIDS"}};
  for (const GenerationRow& row : report.rows)
    cells.push_back({std::to_string(row.generation),
                     std::to_string(row.root_pid), phase_name(row.phase),
                     age_text(row.age_ms), std::to_string(row.conns),
                     std::to_string(row.pids.size()), join_pids(row.pids)});
  return text + table(cells, {5, 7, 10, 9, 7, 7, 0});
}

}  // namespace huptime
