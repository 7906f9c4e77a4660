import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { figureStem, policyEncoding, policyStyles, rowsCsv } from '../experiments/harness/figures.ts';

const s = suite('figures');

s('every policy label gets its own (colour, shape) pair; bounds keep fixed looks', () => {
  const labels = Array.from({ length: 144 }, (_, i) => `p${i}`);
  const st = policyStyles(['plain network', ...labels, 'oracle', 'p3']);
  assert.is(st.domain.length, 146);
  const pairs = new Set(st.domain.map((_, i) => `${st.colours[i]}|${st.shapes[i]}`));
  assert.is(pairs.size, 146);
  assert.is(st.colours[0], '#000000');
  assert.is(st.colours[st.domain.indexOf('oracle')], '#7f7f7f');
  // neighbours never share a shape, and the first 18 policies never share a colour
  for (let i = 2; i < 146; i++) assert.is.not(st.shapes[i], st.shapes[i - 1]);
  assert.is(new Set(st.colours.slice(1, 19)).size, 18);
});

s('a plot\'s legend lists only its labels, each with its report-wide colour', () => {
  const st = policyStyles(['a', 'b', 'c']);
  const e = policyEncoding(st, new Set(['c', 'a'])) as { color: { scale: { domain: string[]; range: string[] } } };
  assert.equal(e.color.scale.domain, ['a', 'c']);
  assert.equal(e.color.scale.range, [st.colours[0], st.colours[2]]);
});

s('figure stems and CSV', () => {
  assert.is(figureStem('offline', 'budgetFraction'), 'offline-budget-fraction');
  assert.is(figureStem('queue', 'exit-shares'), 'queue-exit-shares');
  assert.is(rowsCsv([{ a: 1, b: 'x,y' }, { a: NaN, c: 2 }]), 'a,b,c\n1,"x,y",\n,,2\n');
});

s.run();
