// A small SVG line-chart writer for `evbus bench --plot`: axes with ticks,
// one polyline per series, a legend. Plain text, no dependencies; the output
// is a standalone SVG 1.1 document any browser or rsvg-convert renders.

#ifndef EVBUS_CLI_SVG_PLOT_H_
#define EVBUS_CLI_SVG_PLOT_H_

#include <string>
#include <utility>
#include <vector>

namespace evbus::cli {

struct PlotSeries {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in order
};

struct PlotAxis {
  std::string label;
  bool log = false;  // logarithmic (base 10); values <= 0 are left out
  // Where to put tick marks and what to write there; empty: chosen from the
  // data range (1, 2 or 5 times a power of ten; powers of ten on a log axis).
  std::vector<std::pair<double, std::string>> ticks;
};

struct PlotChart {
  std::string title;
  PlotAxis x, y;
  std::vector<PlotSeries> series;
};

// The chart as an SVG document. A chart without points still renders, with
// "no data" in place of the lines.
std::string RenderSvg(const PlotChart& chart);

}  // namespace evbus::cli

#endif  // EVBUS_CLI_SVG_PLOT_H_
