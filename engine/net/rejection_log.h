#pragma once
// Keeps a flood of rejected connections to a few log lines: the first rejection of a quiet
// spell is logged in full, the ones after it are counted by reason and summarised once the
// window ends ("412 connections rejected in the last 10 s: wrong cookie x400, malformed x12").
// The owner's loop thread only.

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>

namespace weft::detail {

class RejectionLog final {
public:
    // Counts a rejection. True when it opens a window: log it in full, and call take_summary()
    // when the window ends.
    bool add(std::string_view reason)
    {
        if (!open_) {
            open_ = true;
            return true;
        }
        ++counts_[category(reason)];
        ++total_;
        return false;
    }
    // What was counted since the window opened ("" if nothing), and closes the window.
    std::string take_summary(std::chrono::seconds window)
    {
        open_ = false;
        if (total_ == 0)
            return {};
        std::string s = std::to_string(total_) + (total_ == 1 ? " connection" : " connections")
            + " rejected in the last " + std::to_string(window.count()) + " s:";
        const char* sep = " ";
        for (const auto& [why, n] : counts_) {
            s += sep + why + " \u00d7" + std::to_string(n);
            sep = ", ";
        }
        counts_.clear();
        total_ = 0;
        return s;
    }
    // A reason, as summaries count it.
    static std::string category(std::string_view reason)
    {
        struct Kind {
            std::string_view says, is;
        };
        static constexpr Kind kinds[] = { { "wrong cookie", "wrong cookie" },
            { "timed out", "handshake timeout" }, { "unauthenticated", "too many unauthenticated" },
            { "another user", "another user" }, { "protocol version", "protocol version" },
            { "exceeds the limit", "oversized" }, { "malformed", "malformed" },
            { "unexpected message", "malformed" } };
        for (const auto& k : kinds)
            if (reason.find(k.says) != std::string_view::npos)
                return std::string(k.is);
        return "other";
    }

private:
    bool open_ = false;
    std::map<std::string, std::size_t> counts_;
    std::size_t total_ = 0;
};

} // namespace weft::detail
