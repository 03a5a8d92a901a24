import { describe, expect, it } from 'vitest';
import { inviteLink } from './Invites';

describe('invite links', () => {
  it("keep the service's path and the code, on the web app's own origin", () => {
    expect(inviteLink('http://localhost:8080/dojos/join#abc', 'abc', 'http://127.0.0.1:23080')).toBe('http://127.0.0.1:23080/dojos/join#abc');
  });
  it('fall back to /dojos/join when the service sends no usable URL', () => {
    expect(inviteLink('', 'x-y_z', 'https://mrbill.dev')).toBe('https://mrbill.dev/dojos/join#x-y_z');
  });
});
