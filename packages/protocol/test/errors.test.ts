import { describe, expect, it } from 'vitest';
import {
  ERROR_CODES,
  ErrorMessageSchema,
  ProtocolError,
  isErrorCode,
  unwrap,
  fail,
} from '../src/index.js';

const REQUIRED = [
  'UNAUTHENTICATED',
  'AUTH_CHALLENGE_EXPIRED',
  'AUTH_CHALLENGE_REUSED',
  'AUTH_BAD_SIGNATURE',
  'UNKNOWN_MEMBER',
  'MEMBER_REVOKED',
  'PROTOCOL_VERSION_MISMATCH',
  'MALFORMED_JSON',
  'UNKNOWN_MESSAGE_TYPE',
  'INVALID_MESSAGE',
  'FRAME_TOO_LARGE',
  'UNEXPECTED_MESSAGE',
  'REPLAYED_MESSAGE',
  'BAD_ENVELOPE_SIGNATURE',
  'IDENTIFIER_MISMATCH',
  'DUPLICATE',
  'NONCE_ALREADY_USED',
  'COMMITMENT_REUSED',
  'WRONG_GROUP',
  'CEREMONY_NOT_FOUND',
  'STORAGE_UNAVAILABLE',
  'RATE_LIMITED',
  'INTERNAL',
];

describe('error codes', () => {
  it('are a closed, unique set of UPPER_SNAKE names including every required code', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    for (const code of ERROR_CODES) expect(code).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
    for (const code of REQUIRED) expect(isErrorCode(code)).toBe(true);
    expect(isErrorCode('NOT_A_CODE')).toBe(false);
  });

  it('become a valid error message', () => {
    const error = new ProtocolError('RATE_LIMITED', 'slow down');
    expect(ErrorMessageSchema.parse(error.toMessage())).toEqual({
      type: 'error',
      code: 'RATE_LIMITED',
      message: 'slow down',
    });
  });

  it('unwrap throws the coded error of a failed result', () => {
    expect(() => unwrap(fail('DUPLICATE', 'already recorded'))).toThrow(
      expect.objectContaining({ code: 'DUPLICATE' }),
    );
  });
});
