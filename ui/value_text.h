#pragma once
// Values as the GUI shows them, and the argument syntax the submit panel accepts:
//   2, 3.5, "text", true, nothing      a comma-separated list of values
//   [1, 2, 3]                          a list (one argument)
//   1:10                               a range, as in Julia (both ends included)

#include "weft/value.h"

#include <QString>

#include <optional>

namespace weft::ui {

// A short, readable rendering: Value::repr ("[1, 4, 9, …]" for long lists, "2×2 float64 [...]"),
// at most `maxChars` characters.
QString formatValue(const Value& v, int maxChars = 300);

struct ParsedArguments {
    List values;
    QString error; // empty when parsing succeeded
};
ParsedArguments parseArguments(const QString& text);

// A range "lo:hi" (inclusive), if `text` is one.
std::optional<std::pair<qint64, qint64>> parseRange(const QString& text);

// The items of a pmap: a range expands to its numbers; otherwise the arguments are the items.
ParsedArguments parseItems(const QString& text);

} // namespace weft::ui
