#pragma once
// A table model whose rows are values with a stable key, kept sorted by it. A new set of rows is
// applied as a diff: removals and insertions of contiguous ranges, one dataChanged per run of
// changed rows spanning just the columns that changed (with the model's roles), and a reset when
// most rows changed (cheaper for views than thousands of small signals). GUI thread.
//
// Row: a value type with `key()` (ordered, comparable) and `operator==`.
// A subclass says which columns differ between two versions of a row.

#include <QAbstractTableModel>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

namespace weft::ui {

template <class Row> class KeyedTableModel : public QAbstractTableModel {
public:
    explicit KeyedTableModel(int columns, QList<int> roles, QObject* parent = nullptr)
        : QAbstractTableModel(parent)
        , m_columns(columns)
        , m_roles(std::move(roles))
    {
    }

    int rowCount(const QModelIndex& parent = {}) const override
    {
        return parent.isValid() ? 0 : int(m_rows.size());
    }
    int columnCount(const QModelIndex& parent = {}) const override
    {
        return parent.isValid() ? 0 : m_columns;
    }

    // How the last apply reached the views (for tests and for the curious).
    struct Stats {
        int resets = 0, removeRanges = 0, insertRanges = 0, changeRanges = 0;
    };
    [[nodiscard]] const Stats& lastApply() const { return m_stats; }

protected:
    // Bit c is set when column c differs between `a` and `b` (same key).
    [[nodiscard]] virtual std::uint64_t changedColumns(const Row& a, const Row& b) const = 0;

    [[nodiscard]] const Row& row(int i) const { return m_rows[std::size_t(i)]; }
    [[nodiscard]] const std::vector<Row>& rows() const { return m_rows; }

    // Makes `next` (sorted by key, keys unique) the model's rows.
    void setRows(std::vector<Row> next)
    {
        m_stats = {};
        std::size_t kept = 0, changed = 0;
        for (std::size_t i = 0, j = 0; i < m_rows.size() && j < next.size();) {
            if (m_rows[i].key() < next[j].key()) {
                ++i;
            } else if (next[j].key() < m_rows[i].key()) {
                ++j;
            } else {
                ++kept;
                changed += !(m_rows[i] == next[j]);
                ++i;
                ++j;
            }
        }
        const std::size_t touched = (m_rows.size() - kept) + (next.size() - kept) + changed;
        const std::size_t larger = std::max(m_rows.size(), next.size());
        if (larger > kResetFloor && touched * 2 > larger) {
            beginResetModel();
            m_rows = std::move(next);
            endResetModel();
            m_stats.resets = 1;
            return;
        }
        removeMissing(next);
        insertNew(next);
        // Same keys in the same order now: runs of changed rows, over the columns that changed.
        for (int i = 0; i < int(next.size());) {
            if (m_rows[std::size_t(i)] == next[std::size_t(i)]) {
                ++i;
                continue;
            }
            const int first = i;
            std::uint64_t columns = 0;
            for (; i < int(next.size()) && !(m_rows[std::size_t(i)] == next[std::size_t(i)]); ++i) {
                columns |= changedColumns(m_rows[std::size_t(i)], next[std::size_t(i)]);
                m_rows[std::size_t(i)] = std::move(next[std::size_t(i)]);
            }
            if (columns == 0)
                continue; // differs only in what no column shows
            const int lo = std::countr_zero(columns);
            const int hi = 63 - std::countl_zero(columns);
            emit dataChanged(index(first, lo), index(i - 1, std::min(hi, m_columns - 1)), m_roles);
            ++m_stats.changeRanges;
        }
    }

private:
    static constexpr std::size_t kResetFloor = 16; // small tables always diff

    void removeMissing(const std::vector<Row>& next)
    {
        // Ranges of rows whose key is gone, removed from the last so indices stay valid.
        std::vector<std::pair<int, int>> ranges;
        for (std::size_t i = 0, j = 0; i < m_rows.size();) {
            while (j < next.size() && next[j].key() < m_rows[i].key())
                ++j;
            if (j < next.size() && !(m_rows[i].key() < next[j].key())) {
                ++i;
                continue;
            }
            const int first = int(i);
            while (i < m_rows.size() && (j >= next.size() || m_rows[i].key() < next[j].key()))
                ++i;
            ranges.emplace_back(first, int(i) - 1);
        }
        for (auto it = ranges.rbegin(); it != ranges.rend(); ++it) {
            beginRemoveRows({}, it->first, it->second);
            m_rows.erase(m_rows.begin() + it->first, m_rows.begin() + it->second + 1);
            endRemoveRows();
            ++m_stats.removeRanges;
        }
    }

    void insertNew(const std::vector<Row>& next)
    {
        // m_rows now holds a subsequence of next's keys: insert each run of the others.
        std::size_t i = 0;
        for (std::size_t j = 0; j < next.size();) {
            if (i < m_rows.size() && !(next[j].key() < m_rows[i].key())) {
                ++i;
                ++j;
                continue;
            }
            const std::size_t first = j;
            while (j < next.size() && (i >= m_rows.size() || next[j].key() < m_rows[i].key()))
                ++j;
            beginInsertRows({}, int(i), int(i + (j - first) - 1));
            m_rows.insert(m_rows.begin() + std::ptrdiff_t(i), next.begin() + std::ptrdiff_t(first),
                next.begin() + std::ptrdiff_t(j));
            endInsertRows();
            i += j - first;
            ++m_stats.insertRanges;
        }
    }

    const int m_columns;
    const QList<int> m_roles;
    std::vector<Row> m_rows;
    Stats m_stats;
};

} // namespace weft::ui
