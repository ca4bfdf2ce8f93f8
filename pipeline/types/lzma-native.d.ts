/** The part of lzma-native (liblzma bindings; no types of its own) that edk2-matrix uses. */
declare module 'lzma-native' {
  import type { Transform } from 'node:stream';

  export const CHECK_CRC64: number;
  export interface CoderOptions {
    /** 0-9; with EXTREME or'ed in for -e. */
    readonly preset?: number;
    readonly check?: number;
    /** Decoders: bytes of memory the decoder may use. */
    readonly memlimit?: number;
  }
  /** `.xz` compressor (single-threaded unless `threads` is given: deterministic output). */
  export function createCompressor(options?: CoderOptions): Transform;
  export function createStream(coder: 'streamDecoder' | 'easyEncoder', options?: CoderOptions): Transform;
  export const version: string;
}
