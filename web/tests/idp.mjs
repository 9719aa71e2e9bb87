// A real OpenID Connect provider (panva's oidc-provider, certified) standing
// in for a district's unified identity platform in the browser tests. Its
// development login page accepts any username; the accounts below carry the
// school and role claims a platform would send.
//
//   node tests/idp.mjs PORT REDIRECT_URI

import Provider from 'oidc-provider';

const [port, redirectUri] = process.argv.slice(2);
const ACCOUNTS = {
  'zhang.san': { name: '张三', school: 'SCH-001', roles: ['teacher'] },
  'li.si': { name: '李四', school: 'SCH-404', roles: ['teacher'] },
};

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: 'classcast',
    client_secret: 'classcast-test-secret',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  claims: { openid: ['sub'], profile: ['name', 'preferred_username', 'school', 'roles'] },
  // Put the profile claims in the ID token too, where classcast reads them.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  findAccount: async (_ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, preferred_username: id, ...(ACCOUNTS[id] || {}) }),
  }),
  cookies: { keys: ['classcast browser tests only'] },
});
provider.listen(Number(port), '127.0.0.1', () => console.log(`idp listening on ${port}`));
