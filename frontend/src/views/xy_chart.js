// A small canvas chart of y against x with one line per run, used for quality vs sparsity: x is
// whole-model sparsity, which is not a shared step axis (uPlot's charts are), so it is drawn
// here. Lines join the points in step order; hollow dots are points whose sparsity comes from
// the schedule (after the last record); a ring and a dashed rule mark each run's first drop.
// Hover shows the nearest point; a click on a point picks its step.
import { nearestPoint, niceTicks } from "../view_models/xy_chart.js";
import { el, sizeCanvases } from "./dom.js";
import { themeColor } from "../theme.js";

const MARGIN = { left: 58, right: 16, top: 14, bottom: 40 };

export class XYChart {
  /**
   * @param {HTMLElement} container
   * @param {{height?: number, onPick?: (step: number) => void}} options
   */
  constructor(container, { height = 320, onPick = () => {} } = {}) {
    this.container = container;
    this.height = height;
    this.onPick = onPick;
    this.canvas = el("canvas", { class: "xy-canvas" });
    this.tooltip = el("div", { class: "chart-tooltip", attrs: { role: "status" } });
    this.tooltip.hidden = true;
    this.root = el("div", { class: "xy-chart" }, this.canvas, this.tooltip);
    container.appendChild(this.root);
    this.props = null;
    this.hover = null;
    this.canvas.addEventListener("mousemove", (e) => this.onMove(e));
    this.canvas.addEventListener("mouseleave", () => this.setHover(null));
    this.canvas.addEventListener("click", (e) => {
      const hit = this.hit(e);
      if (hit) this.onPick(this.props.lines[hit.line].points[hit.point].step, this.props.lines[hit.line].id);
    });
  }

  /**
   * @param {{lines: {id, label, color, points: {x, y, step, estimated}[], marker}[],
   *          xDomain: [number, number], yDomain: [number, number], xFormat, yFormat,
   *          xLabel: string, yLabel: string, describe: (line, point) => string}} props
   */
  update(props) {
    this.props = props;
    this.hover = null;
    this.tooltip.hidden = true;
    this.draw();
  }

  size() {
    return { width: Math.max(320, Math.floor(this.root.clientWidth || this.container.clientWidth || 640)), height: this.height };
  }

  area() {
    const { width, height } = this.size();
    return { left: MARGIN.left, top: MARGIN.top, width: width - MARGIN.left - MARGIN.right, height: height - MARGIN.top - MARGIN.bottom };
  }

  toPixels(p) {
    const a = this.area();
    const [x0, x1] = this.props.xDomain;
    const [y0, y1] = this.props.yDomain;
    return [a.left + ((p.x - x0) / (x1 - x0 || 1)) * a.width, a.top + a.height - ((p.y - y0) / (y1 - y0 || 1)) * a.height];
  }

  draw() {
    if (!this.props) return;
    const { width, height } = this.size();
    const ctx = sizeCanvases([this.canvas], width, height);
    const a = this.area();
    const { xDomain, yDomain, xFormat, yFormat, lines } = this.props;

    ctx.font = "11px sans-serif";
    ctx.lineWidth = 1;
    ctx.strokeStyle = themeColor("--chart-grid");
    ctx.fillStyle = themeColor("--chart-text");
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (const t of niceTicks(xDomain[0], xDomain[1], 10)) {
      const [x] = this.toPixels({ x: t, y: yDomain[0] });
      ctx.beginPath();
      ctx.moveTo(x + 0.5, a.top);
      ctx.lineTo(x + 0.5, a.top + a.height);
      ctx.stroke();
      ctx.fillText(xFormat(t), x, a.top + a.height + 4);
    }
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const t of niceTicks(yDomain[0], yDomain[1], 5)) {
      const [, y] = this.toPixels({ x: xDomain[0], y: t });
      ctx.beginPath();
      ctx.moveTo(a.left, y + 0.5);
      ctx.lineTo(a.left + a.width, y + 0.5);
      ctx.stroke();
      ctx.fillText(yFormat(t), a.left - 6, y);
    }
    ctx.strokeStyle = themeColor("--chart-frame");
    ctx.strokeRect(a.left + 0.5, a.top + 0.5, a.width, a.height);
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillText(this.props.xLabel, a.left + a.width / 2, height - 2);
    ctx.save();
    ctx.translate(12, a.top + a.height / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText(this.props.yLabel, 0, 0);
    ctx.restore();

    ctx.save();
    ctx.beginPath();
    ctx.rect(a.left, a.top - 6, a.width + 6, a.height + 12);
    ctx.clip();
    lines.forEach((line, li) => {
      ctx.strokeStyle = line.color;
      ctx.lineWidth = 2;
      ctx.beginPath();
      line.points.forEach((p, i) => {
        const [x, y] = this.toPixels(p);
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      });
      ctx.stroke();
      line.points.forEach((p, pi) => {
        const [x, y] = this.toPixels(p);
        const hovered = this.hover && this.hover.line === li && this.hover.point === pi;
        ctx.beginPath();
        ctx.arc(x, y, hovered ? 5.5 : 3.5, 0, 2 * Math.PI);
        ctx.fillStyle = p.estimated ? themeColor("--chart-point-hollow") : line.color;
        ctx.fill();
        ctx.lineWidth = 1.5;
        ctx.strokeStyle = line.color;
        ctx.stroke();
      });
      if (line.marker) {
        const [x, y] = this.toPixels(line.marker);
        ctx.setLineDash([4, 3]);
        ctx.strokeStyle = line.color;
        ctx.lineWidth = 1;
        ctx.beginPath();
        ctx.moveTo(x, a.top);
        ctx.lineTo(x, a.top + a.height);
        ctx.stroke();
        ctx.setLineDash([]);
        ctx.lineWidth = 2;
        ctx.beginPath();
        ctx.arc(x, y, 8, 0, 2 * Math.PI);
        ctx.stroke();
      }
    });
    ctx.restore();
    this.canvas.dataset.lines = String(lines.length);
    this.canvas.dataset.points = String(lines.reduce((n, l) => n + l.points.length, 0));
  }

  hit(e) {
    if (!this.props) return null;
    const rect = this.canvas.getBoundingClientRect();
    return nearestPoint(this.props.lines, e.clientX - rect.left, e.clientY - rect.top, (p) => this.toPixels(p));
  }

  onMove(e) {
    this.setHover(this.hit(e));
  }

  setHover(hit) {
    const same = (a, b) => (a === null && b === null) || (a && b && a.line === b.line && a.point === b.point);
    if (same(hit, this.hover)) return;
    this.hover = hit;
    this.draw();
    if (!hit) {
      this.tooltip.hidden = true;
      this.canvas.classList.remove("pointer");
      return;
    }
    const line = this.props.lines[hit.line];
    const point = line.points[hit.point];
    this.tooltip.textContent = this.props.describe(line, point);
    this.tooltip.hidden = false;
    const [x, y] = this.toPixels(point);
    const { width } = this.size();
    this.tooltip.style.left = `${Math.min(x + 12, width - 260)}px`;
    this.tooltip.style.top = `${Math.max(0, y - 40)}px`;
    this.canvas.classList.add("pointer");
  }

  resize() {
    this.draw();
  }
}
