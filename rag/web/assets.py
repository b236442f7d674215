"""Look and behaviour of the page: theme, stylesheet, and the click-to-read script."""
from __future__ import annotations

import gradio as gr

SYSTEM_FONTS = ("ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue",
                "Arial", "sans-serif")


def theme() -> gr.themes.Base:
    # system fonts only: the page never fetches fonts from the internet
    return gr.themes.Soft(primary_hue="teal", secondary_hue="amber", neutral_hue="slate",
                          font=SYSTEM_FONTS, font_mono=("ui-monospace", "SFMono-Regular", "Menlo", "monospace"),
                          radius_size="md").set(body_background_fill="#f6f7f9")


# Delegated handlers: any element of class rag-ref opens its span in the reader; where the span
# is comes from its classes rag-d-<hex of doc id> rag-s-<start> rag-e-<end>. Article text never
# carries classes (it is escaped); only markup built by rag.web.render does.
JS = """() => {
  if (window.__ragWired) return;
  window.__ragWired = true;
  const hexToText = (hex) => new TextDecoder().decode(
    new Uint8Array((hex.match(/../g) || []).map((h) => parseInt(h, 16))));
  const refOf = (el) => {
    const r = {};
    el.classList.forEach((c) => {
      if (c.startsWith('rag-d-')) r.doc = hexToText(c.slice(6));
      else if (c.startsWith('rag-s-')) r.start = parseInt(c.slice(6), 10);
      else if (c.startsWith('rag-e-')) r.end = parseInt(c.slice(6), 10);
      else if (c.startsWith('rag-a-')) r.short_start = parseInt(c.slice(6), 10);
      else if (c.startsWith('rag-b-')) r.short_end = parseInt(c.slice(6), 10);
    });
    return r;
  };
  const open = (el) => {
    window.__ragRef = JSON.stringify(refOf(el));
    document.querySelectorAll('.rag-ref.rag-active').forEach((e) => e.classList.remove('rag-active'));
    el.classList.add('rag-active');
    const btn = document.getElementById('rag-open-ref');
    if (btn) btn.click();
  };
  // "Back to the answer": the quote that was opened, in the chat; "Back to the articles": the
  // Articles tab, at the title that was opened.
  const back = (el) => {
    if (el.classList.contains('rag-back-articles')) {
      const tab = Array.from(document.querySelectorAll('button[role="tab"]'))
        .find((b) => b.textContent.trim() === 'Articles');
      if (tab) tab.click();
      setTimeout(() => {
        const t = document.querySelector('#rag-docs .rag-ref.rag-active') || document.getElementById('rag-docs');
        if (t) { t.scrollIntoView({block: 'center'}); if (t.focus) t.focus({preventScroll: true}); }
      }, 150);
      return;
    }
    const q = document.querySelector('#rag-chat .rag-ref.rag-active');
    const t = q || document.getElementById('rag-chat');
    if (t) { t.scrollIntoView({block: 'center'}); if (q) q.focus({preventScroll: true}); }
  };
  const target = (ev) => (ev.target && ev.target.closest) ? ev.target.closest('.rag-ref, .rag-back') : null;
  const act = (el) => (el.classList.contains('rag-back') ? back(el) : open(el));
  document.addEventListener('click', (ev) => {
    const el = target(ev);
    if (!el) return;
    ev.preventDefault(); ev.stopPropagation();
    act(el);
  }, true);
  document.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter' && ev.key !== ' ') return;
    const el = target(ev);
    if (!el) return;
    ev.preventDefault(); ev.stopPropagation();
    act(el);
  }, true);
}"""

CSS = """
.rag-hidden { display: none !important; }
#rag-header { align-items: center; gap: 4px 12px; margin-bottom: 4px; flex-wrap: wrap; }
#rag-header > * { min-width: 0 !important; }
#rag-brand { flex: 1 1 auto !important; width: auto !important; }
#rag-status { flex: 0 1 auto !important; width: auto !important; }
.rag-brand { font-size: 1.35rem; font-weight: 650; color: #12312e; display: flex; align-items: baseline;
  gap: 2px 10px; flex-wrap: wrap; }
.rag-brand-name { white-space: nowrap; }
.rag-logo { color: #0f766e; font-size: 1.6rem; line-height: 1; }
.rag-tagline { font-size: .9rem; font-weight: 400; color: #64748b; }
.rag-status { font-size: .88rem; padding: 6px 12px; border-radius: 999px; display: inline-flex; align-items: center;
  gap: 8px; float: right; }
/* phones: brand and tagline on one line, the status pill on its own line below, nothing overflows */
@media (max-width: 640px) {
  .rag-brand { font-size: 1.15rem; }
  .rag-tagline { font-size: .8rem; }
  .rag-status { float: none; font-size: .8rem; padding: 4px 10px; }
}
.rag-status-ready { background: #ecfdf5; color: #065f46; }
.rag-status-busy { background: #fffbeb; color: #92400e; }
.rag-status-error { background: #fef2f2; color: #991b1b; }
.rag-dots { width: 10px; height: 10px; border-radius: 50%; border: 2px solid currentColor; border-right-color: transparent;
  display: inline-block; animation: rag-spin .9s linear infinite; margin-right: 6px; }
@keyframes rag-spin { to { transform: rotate(360deg); } }

/* chat */
#rag-chat { background: #ffffff; }
.rag-placeholder { color: #64748b; text-align: center; line-height: 1.6; font-size: .98rem; }
.rag-user { white-space: pre-wrap; }
.rag-msg { line-height: 1.55; font-size: .97rem; }
.rag-text { font-size: 1.05rem; color: #0f172a; margin-bottom: 6px; white-space: pre-wrap; }
.rag-context { font-size: 0.9rem; color: #475569; margin-top: 4px; }
.rag-caret { color: #0f766e; animation: rag-blink 1s step-end infinite; }
@keyframes rag-blink { 50% { opacity: 0; } }
.rag-pending { color: #64748b; display: flex; align-items: center; }
.rag-section { font-size: .74rem; letter-spacing: .06em; text-transform: uppercase; color: #64748b; margin: 12px 0 6px; }
.rag-quote, .rag-closest { display: flex; gap: 10px; padding: 8px 10px; margin: 6px 0; border-radius: 8px;
  border: 1px solid #e2e8f0; border-left: 3px solid #14b8a6; background: #f8fafc; cursor: pointer;
  transition: background .12s, border-color .12s; }
.rag-closest { border-left-color: #cbd5e1; }
.rag-quote:hover, .rag-closest:hover, .rag-side:hover { background: #f0fdfa; border-color: #99f6e4; }
.rag-ref:focus-visible { outline: 2px solid #0d9488; outline-offset: 2px; }
.rag-ref.rag-active { background: #ccfbf1; }
.rag-num { flex: none; width: 22px; height: 22px; border-radius: 50%; background: #0f766e; color: #fff; font-size: .75rem;
  display: inline-flex; align-items: center; justify-content: center; margin-top: 2px; font-weight: 600; }
.rag-qbody { min-width: 0; }
.rag-qtext { color: #1e293b; font-family: Georgia, 'Times New Roman', serif; font-size: .97rem; white-space: pre-wrap; }
.rag-small { font-size: .86rem; }
.rag-meta { font-size: .8rem; color: #475569; margin-top: 3px; }
.rag-meta-title { font-weight: 600; color: #334155; }
.rag-meta-dim { color: #94a3b8; }
.rag-cite { display: inline-block; padding: 0 5px; margin: 0 1px; border-radius: 5px; background: #ccfbf1; color: #115e59;
  font-size: .8em; font-weight: 600; cursor: pointer; vertical-align: 1px; }
.rag-cite:hover { background: #99f6e4; }
.rag-foot { font-size: .76rem; color: #94a3b8; margin-top: 10px; }
.rag-rewritten { font-size: .8rem; color: #64748b; font-style: italic; margin-bottom: 4px; }
.rag-support { display: inline-block; font-size: .82rem; color: #065f46; background: #ecfdf5; border-radius: 999px;
  padding: 2px 10px; margin: 2px 0 4px; }
.rag-conflict { border: 1px solid #fcd34d; background: #fffbeb; border-radius: 10px; padding: 8px 10px; margin: 8px 0; }
.rag-conflict-title { font-weight: 600; color: #92400e; font-size: .88rem; margin-bottom: 6px; }
.rag-sides { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 8px; }
.rag-side { background: #fff; border: 1px solid #fde68a; border-radius: 8px; padding: 8px; cursor: pointer; }
.rag-side-value { font-size: 1.1rem; font-weight: 650; color: #78350f; }
.rag-abstain { border-left: 3px dashed #94a3b8; padding-left: 10px; }
.rag-abstain-title { font-weight: 650; color: #475569; font-size: 1.02rem; }
.rag-abstain-text { color: #64748b; font-size: .9rem; margin-bottom: 4px; }
.rag-error { color: #991b1b; background: #fef2f2; border-radius: 8px; padding: 8px 10px; }

/* reader */
#rag-reader-col { position: sticky; top: 8px; align-self: flex-start; }
.rag-reader { background: #fff; border: 1px solid #e2e8f0; border-radius: 12px; padding: 16px 18px; }
.rag-reader-empty { min-height: 200px; display: flex; align-items: center; justify-content: center; }
.rag-reader-hint { color: #94a3b8; text-align: center; max-width: 280px; line-height: 1.6; }
.rag-reader-head { border-bottom: 1px solid #e2e8f0; padding-bottom: 8px; margin-bottom: 8px; }
.rag-back { display: inline-block; font-size: .82rem; color: #0f766e; background: #f0fdfa; border: 1px solid #99f6e4;
  border-radius: 999px; padding: 2px 10px; margin-bottom: 8px; cursor: pointer; }
.rag-back:hover { background: #ccfbf1; }
.rag-reader-title { font-size: 1.12rem; font-weight: 650; color: #0f172a; line-height: 1.35; }
.rag-reader-where { font-size: .75rem; color: #94a3b8; margin-bottom: 6px; }
.rag-reader-body { white-space: pre-wrap; font-family: Georgia, 'Times New Roman', serif; font-size: .98rem;
  line-height: 1.65; color: #1e293b; max-height: 70vh; position: relative; overflow-y: auto; padding-right: 6px; }
mark.rag-hl { background: #fde68a; color: inherit; padding: 1px 0; border-radius: 2px; box-shadow: 0 0 0 2px #fde68a; }

/* articles */
.rag-docs-count { font-size: .85rem; color: #64748b; margin-bottom: 6px; }
table.rag-docs { width: 100%; border-collapse: collapse; font-size: .92rem; background: #fff; border-radius: 10px;
  overflow: hidden; border: 1px solid #e2e8f0; }
table.rag-docs th { text-align: left; font-weight: 600; color: #475569; background: #f1f5f9; padding: 8px 10px; }
table.rag-docs th, table.rag-docs td { border: none !important; }
table.rag-docs td { padding: 8px 10px; border-top: 1px solid #eef2f7 !important; vertical-align: top; color: #1e293b; }
.rag-td-title { max-width: 520px; overflow-wrap: break-word; }
.rag-docid { overflow-wrap: anywhere; }   /* long ids may break anywhere; words never do */
.rag-td-outlet { overflow-wrap: normal; word-break: keep-all; hyphens: manual; }
#rag-docs { overflow-x: auto; }
.rag-nowrap { white-space: nowrap; }
.rag-doclink { color: #0f766e; font-weight: 600; cursor: pointer; }
.rag-doclink:hover { text-decoration: underline; }
.rag-doclink.rag-active { background: #ccfbf1; border-radius: 4px; }
.rag-num-cell { text-align: right; }
@media (max-width: 640px) {  /* phones: the four columns fit without a sideways scroll */
  table.rag-docs { font-size: .82rem; }
  table.rag-docs th, table.rag-docs td { padding: 6px 4px; }
}
.rag-empty { color: #64748b; padding: 20px; text-align: center; border: 1px dashed #cbd5e1; border-radius: 10px; }
.rag-report { font-size: .9rem; line-height: 1.5; padding: 6px 2px; }
.rag-report-ok { color: #065f46; }
.rag-report-dim { color: #64748b; }
.rag-report-bad { color: #991b1b; }
.rag-report-bad ul { margin: 2px 0 0 18px; }
"""
