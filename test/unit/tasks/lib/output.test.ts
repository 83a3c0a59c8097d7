import { commandOutput, scrubSecrets, tail } from '../../../../tasks/lib/output';

describe('command output', () => {
  it('keeps the tail within the bound, on a character boundary', () => {
    // Prepare
    const text = `${'é'.repeat(3000)}END`;
    const t = tail(text, 2048);
    // Act / Assess
    expect(Buffer.byteLength(t, 'utf8')).toBeLessThanOrEqual(2048 + 3);
    expect(t.startsWith('…')).toBe(true);
    expect(t.endsWith('END')).toBe(true);
    expect(t).not.toContain('\uFFFD');
  });

  it('leaves short output alone', () => {
    expect(tail('hello')).toBe('hello');
  });

  it('masks values on lines that mention passwords', () => {
    // Prepare
    const out = scrubSecrets('joining\nOneTimePassword=Abc123-xyz\nadcli join --one-time-password=S3cr3t --computer-name=X\nok');
    // Act / Assess
    expect(out).not.toContain('Abc123-xyz');
    expect(out).not.toContain('S3cr3t');
    expect(out).toContain('joining');
    expect(out).toContain('ok');
  });

  it('keeps getent passwd output (a verification cause must show it) but masks a passwd key', () => {
    // Prepare
    const out = scrubSecrets('  getent passwd alice: <no entry>\nalice:*:201105:200513::/home/alice:/bin/bash\nbindpasswd: Hunter2');
    // Act / Assess
    expect(out).toContain('getent passwd alice: <no entry>');
    expect(out).toContain('alice:*:201105');
    expect(out).not.toContain('Hunter2');
  });

  it('joins stdout and stderr and bounds the result', () => {
    // Prepare
    const out = commandOutput('x'.repeat(5000), 'adcli: Couldn\'t authenticate');
    // Act / Assess
    expect(Buffer.byteLength(out)).toBeLessThanOrEqual(2048 + 3);
    expect(out).toMatch(/--- stderr ---\nadcli: Couldn't authenticate$/);
  });
});
