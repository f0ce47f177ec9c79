#include "value_text.h"

#include <QRegularExpression>

namespace weft::ui {

namespace {

// Splits at top-level commas (not inside quotes or brackets).
QStringList splitTopLevel(const QString& s, QString& error)
{
    QStringList parts;
    QString cur;
    int depth = 0;
    bool quoted = false;
    for (QChar c : s) {
        if (c == '"')
            quoted = !quoted;
        if (!quoted) {
            if (c == '[')
                ++depth;
            else if (c == ']' && --depth < 0) {
                error = QStringLiteral("unbalanced ']'");
                return {};
            } else if (c == ',' && depth == 0) {
                parts << cur.trimmed();
                cur.clear();
                continue;
            }
        }
        cur += c;
    }
    if (quoted)
        error = QStringLiteral("a string is not closed (missing '\"')");
    else if (depth != 0)
        error = QStringLiteral("a list is not closed (missing ']')");
    if (!cur.trimmed().isEmpty() || !parts.isEmpty())
        parts << cur.trimmed();
    return parts;
}

std::optional<Value> parseOne(const QString& t, QString& error)
{
    if (t.isEmpty()) {
        error = QStringLiteral("an argument is empty");
        return std::nullopt;
    }
    if (t.startsWith('"') && t.endsWith('"') && t.size() >= 2)
        return Value(t.mid(1, t.size() - 2).toStdString());
    if (t.startsWith('[') && t.endsWith(']')) {
        auto inner = splitTopLevel(t.mid(1, t.size() - 2), error);
        if (!error.isEmpty())
            return std::nullopt;
        List l;
        for (auto& p : inner) {
            auto v = parseOne(p, error);
            if (!v)
                return std::nullopt;
            l.push_back(std::move(*v));
        }
        return Value(std::move(l));
    }
    if (t == QLatin1String("true") || t == QLatin1String("false"))
        return Value(t == QLatin1String("true"));
    if (t == QLatin1String("nothing"))
        return Value();
    bool ok = false;
    const qint64 i = t.toLongLong(&ok);
    if (ok)
        return Value(std::int64_t(i));
    const double d = t.toDouble(&ok);
    if (ok)
        return Value(d);
    error = QStringLiteral("'%1' is not a number, a \"string\", a [list], true, false or nothing")
                .arg(t);
    return std::nullopt;
}

} // namespace

QString formatValue(const Value& v, int maxChars)
{
    // The engine's one rendering (Value::repr), cut to fit a line of the window.
    auto out = QString::fromStdString(v.repr());
    if (out.size() > maxChars)
        out = out.left(maxChars) + QChar(0x2026);
    return out;
}

ParsedArguments parseArguments(const QString& text)
{
    ParsedArguments r;
    const auto parts = splitTopLevel(text.trimmed(), r.error);
    if (!r.error.isEmpty())
        return r;
    for (auto& p : parts) {
        auto v = parseOne(p, r.error);
        if (!v) {
            r.values.clear();
            return r;
        }
        r.values.push_back(std::move(*v));
    }
    return r;
}

std::optional<std::pair<qint64, qint64>> parseRange(const QString& text)
{
    static const QRegularExpression re(QStringLiteral("^\\s*(-?\\d+)\\s*:\\s*(-?\\d+)\\s*$"));
    const auto m = re.match(text);
    if (!m.hasMatch())
        return std::nullopt;
    return std::pair { m.captured(1).toLongLong(), m.captured(2).toLongLong() };
}

ParsedArguments parseItems(const QString& text)
{
    if (auto range = parseRange(text)) {
        ParsedArguments r;
        if (range->second < range->first) {
            r.error
                = QStringLiteral("the range %1:%2 is empty").arg(range->first).arg(range->second);
            return r;
        }
        if (range->second - range->first >= 10'000'000) {
            r.error = QStringLiteral("the range is too long (at most 10,000,000 items)");
            return r;
        }
        for (qint64 i = range->first; i <= range->second; ++i)
            r.values.emplace_back(std::int64_t(i));
        return r;
    }
    auto r = parseArguments(text);
    // One list argument: its elements are the items.
    if (r.error.isEmpty() && r.values.size() == 1 && r.values[0].kind() == Value::Kind::List)
        r.values = List(r.values[0].as_list());
    return r;
}

} // namespace weft::ui
