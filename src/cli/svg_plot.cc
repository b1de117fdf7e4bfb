#include "cli/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace evbus::cli {
namespace {

constexpr double kWidth = 840, kHeight = 420;
constexpr double kLeft = 80, kRight = 260, kTop = 40, kBottom = 56;  // margins
constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string Escape(const std::string& s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", v);
  return buf;
}

// A tick label: short, without trailing zeros (1.5k, 20, 0.25).
std::string Label(double v) {
  char buf[32];
  const double a = std::fabs(v);
  if (a >= 1e6) {
    std::snprintf(buf, sizeof(buf), "%gM", v / 1e6);
  } else if (a >= 1e3) {
    std::snprintf(buf, sizeof(buf), "%gk", v / 1e3);
  } else {
    std::snprintf(buf, sizeof(buf), "%g", v);
  }
  return buf;
}

// Maps data values of one axis onto pixels.
struct Scale {
  bool log = false;
  double lo = 0, hi = 1;    // in data units (log10 of them on a log axis)
  double from = 0, to = 1;  // pixels
  double Map(double v) const {
    const double u = log ? std::log10(v) : v;
    return from + (u - lo) / (hi - lo) * (to - from);
  }
  bool Shows(double v) const { return !log || v > 0; }
};

Scale MakeScale(const PlotAxis& axis, double lo, double hi, double from, double to) {
  Scale s{axis.log, lo, hi, from, to};
  for (const auto& [at, text] : axis.ticks) {  // explicit ticks widen the range
    s.lo = std::min(s.lo, at);
    s.hi = std::max(s.hi, at);
  }
  if (axis.log) {
    s.lo = std::floor(std::log10(s.lo));
    s.hi = std::ceil(std::log10(s.hi));
  } else if (s.lo > 0 && s.lo < s.hi * 0.5) {
    s.lo = 0;  // a linear axis starts at zero unless the data sit far above it
  }
  if (s.hi <= s.lo) s.hi = s.lo + 1;
  return s;
}

std::vector<std::pair<double, std::string>> AutoTicks(const Scale& s) {
  std::vector<std::pair<double, std::string>> ticks;
  if (s.log) {
    for (double e = s.lo; e <= s.hi + 1e-9; e += 1) {
      ticks.emplace_back(std::pow(10.0, e), Label(std::pow(10.0, e)));
    }
    return ticks;
  }
  const double raw = (s.hi - s.lo) / 5;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (const double m : {2.0, 5.0, 10.0}) {
    if (step < raw) step = m * magnitude;
  }
  for (double v = std::ceil(s.lo / step) * step; v <= s.hi + step * 1e-9; v += step) {
    ticks.emplace_back(v, Label(v));
  }
  return ticks;
}

}  // namespace

std::string RenderSvg(const PlotChart& chart) {
  double xlo = std::numeric_limits<double>::max(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  for (const PlotSeries& s : chart.series) {
    for (const auto& [x, y] : s.points) {
      if ((chart.x.log && x <= 0) || (chart.y.log && y <= 0)) continue;
      xlo = std::min(xlo, x), xhi = std::max(xhi, x);
      ylo = std::min(ylo, y), yhi = std::max(yhi, y);
    }
  }
  const bool empty = xlo > xhi;
  if (empty) xlo = ylo = 1, xhi = yhi = 10;
  const Scale sx = MakeScale(chart.x, xlo, xhi, kLeft, kWidth - kRight);
  const Scale sy = MakeScale(chart.y, ylo, yhi, kHeight - kBottom, kTop);

  std::string svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + Num(kWidth) + "\" height=\"" +
         Num(kHeight) + "\" viewBox=\"0 0 " + Num(kWidth) + " " + Num(kHeight) +
         "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += "<text x=\"" + Num(kWidth / 2) + "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" +
         Escape(chart.title) + "</text>\n";
  // Grid lines and tick labels.
  for (const auto& [at, text] : chart.x.ticks.empty() ? AutoTicks(sx) : chart.x.ticks) {
    if (!sx.Shows(at)) continue;
    const std::string x = Num(sx.Map(at));
    svg += "<line x1=\"" + x + "\" y1=\"" + Num(kTop) + "\" x2=\"" + x + "\" y2=\"" +
           Num(kHeight - kBottom) + "\" stroke=\"#ddd\"/>\n";
    svg += "<text x=\"" + x + "\" y=\"" + Num(kHeight - kBottom + 16) +
           "\" text-anchor=\"middle\">" + Escape(text) + "</text>\n";
  }
  for (const auto& [at, text] : chart.y.ticks.empty() ? AutoTicks(sy) : chart.y.ticks) {
    if (!sy.Shows(at)) continue;
    const std::string y = Num(sy.Map(at));
    svg += "<line x1=\"" + Num(kLeft) + "\" y1=\"" + y + "\" x2=\"" + Num(kWidth - kRight) +
           "\" y2=\"" + y + "\" stroke=\"#ddd\"/>\n";
    svg += "<text x=\"" + Num(kLeft - 6) + "\" y=\"" + y + "\" dy=\"4\" text-anchor=\"end\">" +
           Escape(text) + "</text>\n";
  }
  // Axes and their labels.
  svg += "<rect x=\"" + Num(kLeft) + "\" y=\"" + Num(kTop) + "\" width=\"" +
         Num(kWidth - kLeft - kRight) + "\" height=\"" + Num(kHeight - kTop - kBottom) +
         "\" fill=\"none\" stroke=\"#333\"/>\n";
  svg += "<text x=\"" + Num((kLeft + kWidth - kRight) / 2) + "\" y=\"" + Num(kHeight - 14) +
         "\" text-anchor=\"middle\">" + Escape(chart.x.label) + "</text>\n";
  svg += "<text transform=\"translate(18 " + Num((kTop + kHeight - kBottom) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + Escape(chart.y.label) + "</text>\n";
  if (empty) {
    svg += "<text x=\"" + Num((kLeft + kWidth - kRight) / 2) + "\" y=\"" + Num(kHeight / 2) +
           "\" text-anchor=\"middle\" fill=\"#888\">no data</text>\n";
  }
  // One polyline and one legend entry per series.
  for (size_t i = 0; i < chart.series.size(); ++i) {
    const PlotSeries& s = chart.series[i];
    const std::string color = kColors[i % std::size(kColors)];
    std::string points;
    for (const auto& [x, y] : s.points) {
      if (!sx.Shows(x) || !sy.Shows(y)) continue;
      points += Num(sx.Map(x)) + "," + Num(sy.Map(y)) + " ";
    }
    svg += "<polyline fill=\"none\" stroke=\"" + color + "\" stroke-width=\"1.8\" points=\"" +
           points + "\"/>\n";
    const double ly = kTop + 8 + 18 * static_cast<double>(i);
    svg += "<line x1=\"" + Num(kWidth - kRight + 12) + "\" y1=\"" + Num(ly) + "\" x2=\"" +
           Num(kWidth - kRight + 32) + "\" y2=\"" + Num(ly) + "\" stroke=\"" + color +
           "\" stroke-width=\"3\"/>\n";
    svg += "<text x=\"" + Num(kWidth - kRight + 38) + "\" y=\"" + Num(ly + 4) + "\">" +
           Escape(s.name) + "</text>\n";
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace evbus::cli
