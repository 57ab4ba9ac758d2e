"""Rendering layer: plans, task graphs and run summaries as text, JSON, mermaid and dot.

Renderers take values (a Plan, a TaskGraph, run results) and return strings or
rich renderables; they do no I/O of their own and never see secret values.
"""
