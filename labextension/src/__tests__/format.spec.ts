import {
  cellLabel,
  formatDigest,
  formatDuration,
  formatSize,
  firedBy,
  formatValue,
  relativePath,
  shortId,
} from '../format';

describe('formatters', () => {
  it.each([
    ['20261124-174830-fb4414', '174830-fb4414'],
    ['20261124-174811-0a9c2e', '174811-0a9c2e'],
    ['short', 'short'],
    ['a-very-long-run-identifier-xyz', '…dentifier-xyz'],
  ])('shortId(%p) = %p', (id, expected) => expect(shortId(id)).toBe(expected));

  it.each([
    [null, null, null],
    ['s-3f9a2c', 'cron 0 3 * * * at 2026-12-02T03:00+01:00',
      { label: 'scheduled', title: 's-3f9a2c: cron 0 3 * * * at 2026-12-02T03:00+01:00' }],
    ['airflow:churn', 'airflow run manual__2026-12-02T10:00:00+00:00',
      { label: 'airflow', title: 'airflow:churn: airflow run manual__2026-12-02T10:00:00+00:00' }],
    ['s-3f9a2c', null, { label: 'scheduled', title: 's-3f9a2c' }],
  ])('firedBy(%p, %p) = %p', (schedule, reason, expected) =>
    expect(firedBy(schedule, reason)).toEqual(expected)
  );

  it.each([
    ['023df0a5ca5d36db3d00e3bc0cf7dd08c4dd9f04bbf1004c27ff48aa00000000', '023df0a5ca'],
    ['not a digest', 'not a digest'],
    [null, '—'],
  ])('formatDigest(%p) = %p', (value, expected) => expect(formatDigest(value)).toBe(expected));

  it.each([
    [60, '60'],
    [0.94161234, '0.9416'],
    [null, '—'],
    [[1, 2], '[1,2]'],
  ])('formatValue(%p) = %p', (value, expected) => expect(formatValue(value)).toBe(expected));

  it.each([
    [null, '—'],
    [250, '250 ms'],
    [11800, '11.8 s'],
    [125000, '2 min 5 s'],
  ])('formatDuration(%p) = %p', (ms, expected) => expect(formatDuration(ms)).toBe(expected));

  it.each([
    [512, '512 B'],
    [51300, '50.1 KB'],
    [3 * 1024 * 1024, '3.0 MB'],
  ])('formatSize(%p) = %p', (bytes, expected) => expect(formatSize(bytes)).toBe(expected));

  it.each([
    ['/srv/root/data/customers.csv', '/srv/root', 'data/customers.csv'],
    ['/srv/root/data/customers.csv', '/srv/root/', 'data/customers.csv'],
    ['/srv/rootless/x.csv', '/srv/root', '/srv/rootless/x.csv'],
    ['/elsewhere/x.csv', '', '/elsewhere/x.csv'],
  ])('relativePath(%p, %p) = %p', (path, root, expected) =>
    expect(relativePath(path, root)).toBe(expected)
  );
});

describe('cellLabel', () => {
  const uuid = '3f2a9c1e-8b7d-4e2f-9a61-0c5d7e8f9a10';
  it.each([
    ['load', 3, 'x = 1', '[3] load'],
    [uuid, 5, 'import pandas as pd\ndf = pd.read_csv("a.csv")', '[5] import pandas as pd'],
    [uuid, 2, '# Train the model\nmodel.fit(X, y)', '[2] Train the model'],
    [uuid, 7, '%matplotlib inline\n\nplt.plot(xs)', '[7] plt.plot(xs)'],
    [uuid, 1, 'features = build_features(raw_frame, window=30)', '[1] features = build_features(r…'],
    [uuid, null, '', '[ ] 3f2a9c1e'],
    ['a3b4c5d6e7f80912', 4, null, '[4] a3b4c5d6'],
  ] as [string, number | null, string | null, string][])(
    '%s #%p',
    (id, count, source, expected) => {
      expect(cellLabel(id, count, source)).toBe(expected);
    }
  );
});
