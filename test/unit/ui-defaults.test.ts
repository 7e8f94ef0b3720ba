import { describe, expect, it } from 'vitest';
import { linkCreateSchema } from '../../src/model/link.js';
import { LINK_TTL_DEFAULT } from '../../web/src/defaults.js';

describe('web UI defaults', () => {
  it('fills in the same link lifetime as the API and the CLI', () => {
    expect(linkCreateSchema.parse({ service: 'a' }).ttl).toBe(LINK_TTL_DEFAULT);
  });
});
