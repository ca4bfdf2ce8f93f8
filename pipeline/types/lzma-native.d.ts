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
    /** Bytes the coder hands on at a time. */
    readonly bufsize?: number;
  }
  /** `.xz` compressor (single-threaded unless `threads` is given: deterministic output). */
  export function createCompressor(options?: CoderOptions): Transform;
  export function createStream(coder: 'streamDecoder' | 'easyEncoder' | 'aloneDecoder' | 'aloneEncoder', options?: CoderOptions): Transform;
  /** Raw coders: a filter chain (e.g. FILTER_X86 then FILTER_LZMA2) with no container around it. */
  export function createStream(coder: 'rawEncoder' | 'rawDecoder', options: { readonly filters: readonly { readonly id: string }[] }): Transform;
  export const FILTER_X86: string;
  export const FILTER_LZMA2: string;
  export const version: string;
}
