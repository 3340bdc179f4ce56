// Opens a `gradc explore` page in headless Chromium, clicks through it and
// saves screenshots; exits non-zero on any console error, page error, failed
// request or missing highlight. Run by scripts/explore-check.sh.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

const [playwrightDir, page, outDir] = process.argv.slice(2);
const { chromium } = require(path.join(playwrightDir, 'playwright-core'));

const FLAGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

function check(ok, what) {
  if (!ok) { throw new Error('check failed: ' + what); }
  console.log('ok: ' + what);
}

(async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'gradc-explore-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 800 },
  });
  const errors = [];
  const tab = await context.newPage();
  tab.on('console', (m) => { if (m.type() === 'error') { errors.push('console: ' + m.text()); } });
  tab.on('pageerror', (e) => errors.push('page error: ' + e.message));
  tab.on('requestfailed', (r) => errors.push('request failed: ' + r.url()));
  // The page needs nothing but itself: any other request is an error.
  const self = 'file://' + path.resolve(page);
  tab.on('request', (r) => { if (r.url() !== self) { errors.push('request: ' + r.url()); } });
  const count = (sel) => tab.locator(sel).count();
  const shot = (name) => tab.screenshot({ path: path.join(outDir, name) });
  try {
    await tab.goto(self);
    await shot('1-loaded.png');
    check(await count('#opt .node') > 0, 'the optimized graph is drawn');

    // A line of generated code: the backward `let mut d_h`.
    const line = tab.locator('.code-line.code', { hasText: /let mut d_h\b/ }).first();
    await line.click();
    check(await count('#opt .node.hl') > 0, 'a code line highlights its optimized nodes');
    check(await count('.src-line.hl') > 0, 'a code line highlights its source statement');
    check(await count('.code-line.origin.hl') > 0, 'a code line highlights its chain-rule comment');
    check(await count('#joint .node.hl') > 0, 'a code line highlights the joint nodes of its term');
    const text = await tab.locator('#details-text').textContent();
    check(text.includes('chain rule:') && text.includes('rewrites'), 'a code line shows its explanation');
    await shot('2-code-line.png');

    // Each graph, and a node of each.
    for (const [view, file] of [['joint', '3-joint.png'], ['fwd', '4-forward.png'], ['opt', '5-optimized.png']]) {
      await tab.click('#tab-' + view);
      check(await tab.locator('#view-' + view).isVisible(), view + ' tab shows its graph');
      const kind = view === 'joint' ? '.bwd' : '.fwd';
      await tab.locator('#' + view + ' .node' + kind).first().click();
      check(await count('#' + view + ' .node.sel') === 1, view + ': the clicked node is selected');
      check(await count('.src-line.hl') > 0, view + ': a node highlights its source statement');
      const t = await tab.locator('#details-text').textContent();
      check(t.length > 0, view + ': a node shows details');
      if (view === 'opt') {
        check(await count('.code-line.hl') > 0, 'an optimized node highlights its code');
        check(t.includes('rewrites:'), 'an optimized node shows its rewrites');
      }
      await shot(file);
    }
    // A root box selects its node; a source line its statement everywhere.
    await tab.locator('#opt .root[data-root]').first().click();
    check(await count('#opt .node.sel') === 1, 'a root selects its node');
    await tab.locator('.src-line[data-stmt]').first().click();
    check(await count('.code-line.hl') > 0 && await count('.node.hl') > 0, 'a source line highlights code and nodes');
    await shot('6-source-line.png');
  } catch (e) {
    errors.push(e.message);
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  if (errors.length > 0) {
    console.error(errors.join('\n'));
    process.exit(1);
  }
  console.log('explore-check: no errors; screenshots in ' + outDir);
})();
