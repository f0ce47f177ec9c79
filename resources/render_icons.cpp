// Renders resources/icons/weft.svg to the PNG sizes desktops look for (build time only).

#include <QGuiApplication>
#include <QImage>
#include <QPainter>
#include <QSvgRenderer>

#include <cstdio>

int main(int argc, char** argv)
{
    if (argc < 4) {
        std::fprintf(stderr, "usage: weft-render-icons SVG OUT_DIR SIZE...\n");
        return 2;
    }
    qputenv("QT_QPA_PLATFORM", "offscreen");
    QGuiApplication app(argc, argv);
    QSvgRenderer svg(QString::fromLocal8Bit(argv[1]));
    if (!svg.isValid()) {
        std::fprintf(stderr, "weft-render-icons: cannot read %s\n", argv[1]);
        return 1;
    }
    for (int i = 3; i < argc; ++i) {
        const int size = std::atoi(argv[i]);
        QImage img(size, size, QImage::Format_ARGB32_Premultiplied);
        img.fill(Qt::transparent);
        QPainter p(&img);
        p.setRenderHint(QPainter::Antialiasing);
        svg.render(&p);
        p.end();
        const auto out
            = QStringLiteral("%1/weft-%2.png").arg(QString::fromLocal8Bit(argv[2])).arg(size);
        if (!img.save(out)) {
            std::fprintf(stderr, "weft-render-icons: cannot write %s\n", qPrintable(out));
            return 1;
        }
    }
    return 0;
}
