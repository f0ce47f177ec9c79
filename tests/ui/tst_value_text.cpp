// The submit panel's argument syntax and the rendering of values.

#include "value_text.h"

#include <QtTest>

using namespace weft;
using namespace weft::ui;

class TestValueText : public QObject {
    Q_OBJECT
private slots:
    void argument_syntax_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("formatted"); // of the parsed list, or the error
        QTest::newRow("numbers") << "2, 3.5"
                                 << "[2, 3.5]";
        QTest::newRow("text and bools") << "\"a, b\", true, nothing"
                                        << "[\"a, b\", true, nothing]";
        QTest::newRow("nested list") << "[1, [2, 3]], 4"
                                     << "[[1, [2, 3]], 4]";
        QTest::newRow("empty") << ""
                               << "[]";
        QTest::newRow("bad word") << "2, x"
                                  << "error: 'x' is not a number";
        QTest::newRow("open string") << "\"abc"
                                     << "error: a string is not closed";
        QTest::newRow("open list") << "[1, 2"
                                   << "error: a list is not closed";
    }
    void argument_syntax()
    {
        QFETCH(QString, text);
        QFETCH(QString, formatted);
        auto r = parseArguments(text);
        if (formatted.startsWith("error: "))
            QVERIFY2(r.error.startsWith(formatted.mid(7)), qPrintable(r.error));
        else
            QCOMPARE(formatValue(Value(r.values)), formatted);
    }

    void items_and_ranges()
    {
        auto r = parseItems("1:5");
        QCOMPARE(r.values.size(), std::size_t(5));
        QCOMPARE(r.values.back().as_int(), std::int64_t(5));
        QCOMPARE(parseItems("[3, 4]").values.size(), std::size_t(2));
        QVERIFY(!parseItems("5:1").error.isEmpty());
        QCOMPARE(parseRange(" -2 : 7 ")->first, qint64(-2));
        QVERIFY(!parseRange("1:x"));
    }
};

QTEST_MAIN(TestValueText)
#include "tst_value_text.moc"
