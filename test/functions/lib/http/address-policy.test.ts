import { ForbiddenDestinationError } from '../../../../functions/lib/core/errors.ts';
import { AddressPolicy, type AddressPolicyOptions, DnsDestinationGuard } from '../../../../functions/lib/http/address-policy.ts';

const deployed: AddressPolicyOptions = { allowHttp: false, allowLoopback: false, allowPrivate: false };
const local: AddressPolicyOptions = { allowHttp: true, allowLoopback: true, allowPrivate: false };
const everything: AddressPolicyOptions = { allowHttp: true, allowLoopback: true, allowPrivate: true };

const policy = (options: Partial<AddressPolicyOptions> = {}) => new AddressPolicy({ ...deployed, ...options });

describe('AddressPolicy.refusal', () => {
  test.each(['93.184.216.34', '2606:4700::1111', '8.8.8.8', '2a00:1450:4001:80b::200e'])('public %s is allowed', (address) => {
    expect(policy().refusal(address)).toBeUndefined();
  });

  test.each(['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1'])('loopback %s is allowed only with allowLoopback', (address) => {
    expect(policy().refusal(address)).toMatch(/loopback/);
    expect(policy({ allowPrivate: true }).refusal(address)).toMatch(/loopback/);
    expect(policy({ allowLoopback: true }).refusal(address)).toBeUndefined();
  });

  test.each(['10.0.0.1', '172.16.0.1', '172.31.255.254', '192.168.1.1', '100.64.0.1', 'fd00::1', 'fc00::1', '::ffff:10.0.0.1'])(
    'private %s is allowed only with allowPrivate',
    (address) => {
      expect(policy().refusal(address)).toMatch(/private/);
      expect(policy({ allowLoopback: true }).refusal(address)).toMatch(/private/);
      expect(policy({ allowPrivate: true }).refusal(address)).toBeUndefined();
    },
  );

  test.each(['169.254.169.254', 'fd00:ec2::254', '::ffff:169.254.169.254'])('the metadata service %s is always refused', (address) => {
    expect(new AddressPolicy(everything).refusal(address)).toBe('the cloud metadata service');
    expect(policy().refusal(address)).toBe('the cloud metadata service');
  });

  test.each(['169.254.1.1', 'fe80::1', '0.0.0.0', '::', '224.0.0.1', 'ff02::1', '255.255.255.255', '240.0.0.1', '2001:db8::1'])(
    'special-purpose %s is always refused',
    (address) => {
      expect(new AddressPolicy(everything).refusal(address)).toMatch(/reserved/);
    },
  );

  test('172.15.x and 172.32.x are public, outside 172.16.0.0/12', () => {
    expect(policy().refusal('172.15.0.1')).toBeUndefined();
    expect(policy().refusal('172.32.0.1')).toBeUndefined();
  });

  test('an IPv4-mapped IPv6 address is judged as its IPv4 address', () => {
    expect(policy().refusal('::ffff:93.184.216.34')).toBeUndefined();
    expect(policy().refusal('::ffff:7f00:1')).toMatch(/loopback/);
    expect(new AddressPolicy(everything).refusal('::ffff:a9fe:a9fe')).toBe('the cloud metadata service');
  });

  test('something that is not an IP address is refused', () => {
    expect(policy().refusal('example.com')).toMatch(/not an IP address/);
    expect(policy().refusal('')).toMatch(/not an IP address/);
  });

  // Regression guard, fixed (functions/lib/http/address-policy.ts line 31): the IPv6 metadata address is matched on the
  // raw input text (`address === 'fd00:ec2::254'`), not on the parsed address, so any other
  // spelling of the same address (uncompressed, upper case, leading zeros) falls through to the
  // range check, where it is a `uniqueLocal` address that allowPrivate lets through. Compare
  // `parsed.toString()` (ipaddr's canonical form) with 'fd00:ec2::254' instead.
  test('the IPv6 metadata address is refused whatever its spelling', () => {
    const permissive = new AddressPolicy(everything);
    expect(permissive.refusal('fd00:ec2:0:0:0:0:0:254')).toBe('the cloud metadata service');
    expect(permissive.refusal('FD00:EC2::254')).toBe('the cloud metadata service');
    expect(permissive.refusal('fd00:0ec2::0254')).toBe('the cloud metadata service');
  });
});

describe('DnsDestinationGuard.check', () => {
  const guard = (options: Partial<AddressPolicyOptions> = {}) => new DnsDestinationGuard(policy(options));

  async function refusal(check: Promise<void>): Promise<ForbiddenDestinationError> {
    try {
      await check;
    } catch (error) {
      if (error instanceof ForbiddenDestinationError) return error;
      throw error;
    }
    throw new Error('expected the destination to be refused');
  }

  test('a public IP literal over https is allowed', async () => {
    await expect(guard().check('https://93.184.216.34/hooks')).resolves.toBeUndefined();
    await expect(guard().check('https://[2606:4700::1111]:8443/hooks')).resolves.toBeUndefined();
  });

  test('https is required unless allowHttp', async () => {
    const error = await refusal(guard().check('http://93.184.216.34/hooks'));
    expect(error.code).toBe('forbidden_destination');
    expect(error.message).toMatch(/https/);
    await expect(guard({ allowHttp: true }).check('http://93.184.216.34/hooks')).resolves.toBeUndefined();
  });

  test('other schemes are refused even with allowHttp', async () => {
    await refusal(guard({ allowHttp: true }).check('ftp://93.184.216.34/x'));
    await refusal(guard({ allowHttp: true }).check('file:///etc/passwd'));
  });

  test('a relative or malformed URL is refused', async () => {
    expect((await refusal(guard().check('/hooks'))).message).toMatch(/not an absolute URL/);
    await refusal(guard().check('not a url'));
  });

  test('credentials in the URL are refused', async () => {
    expect((await refusal(guard().check('https://user:secret@93.184.216.34/'))).message).toMatch(/credentials/);
    await refusal(guard().check('https://user@93.184.216.34/'));
  });

  test('localhost resolves to loopback and is refused without allowLoopback', async () => {
    expect((await refusal(guard({ allowHttp: true }).check('http://localhost:3000/hook'))).message).toMatch(/loopback/);
    await expect(new DnsDestinationGuard(new AddressPolicy(local)).check('http://localhost:3000/hook')).resolves.toBeUndefined();
  });

  test('a host that does not resolve is refused', async () => {
    expect((await refusal(guard().check('https://nonexistent.invalid/hook'))).message).toMatch(/does not resolve/);
  });

  test('IP literals in brackets are checked as addresses', async () => {
    expect((await refusal(guard().check('https://[::1]/'))).message).toMatch(/loopback/);
    await expect(guard({ allowLoopback: true }).check('https://[::1]/')).resolves.toBeUndefined();
    expect((await refusal(new DnsDestinationGuard(new AddressPolicy(everything)).check('https://[fd00:ec2::254]/'))).message).toMatch(
      /metadata/,
    );
    expect((await refusal(guard().check('https://[fe80::1]/'))).message).toMatch(/reserved/);
  });

  test('private and metadata IPv4 literals are refused', async () => {
    await refusal(guard().check('https://10.0.0.1/'));
    await expect(guard({ allowPrivate: true }).check('https://10.0.0.1/')).resolves.toBeUndefined();
    expect(
      (await refusal(new DnsDestinationGuard(new AddressPolicy(everything)).check('http://169.254.169.254/latest/meta-data'))).message,
    ).toMatch(/metadata/);
  });

  test('alternative spellings of loopback are normalised by the URL parser and still refused', async () => {
    await refusal(guard().check('https://127.1/'));
    await refusal(guard().check('https://0x7f000001/'));
    await refusal(guard().check('https://[::ffff:127.0.0.1]/'));
    await refusal(guard().check('https://0.0.0.0/'));
  });
});
