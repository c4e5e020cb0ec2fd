// The canary: a tiny container that proves an engine can checkpoint and restore a container of a
// given shape (runtime, network mode) before extmount stops a real one there. A version table
// (restore-blockers.ts) knows the failures measured so far; the canary also finds the ones nobody
// has measured (a CRIU that fails on that kernel, a runtime that cannot restore, a broken engine).
//
// Its program is built here, so that it needs no image from a registry: a static x86-64 ELF of 129
// bytes that calls pause(2) in a loop (a signal without a handler ends it, as for any process).
import { END_OF_ARCHIVE, encodeFileEntry } from '../migrate/migrate-tar.js';

export const CANARY_IMAGE = 'extmount-canary:1';
export const CANARY_LABEL = 'extmount.canary';
export const CANARY_PATH = '/canary';

const LOAD_ADDRESS = 0x400000n;
const ELF_HEADER_SIZE = 64;
const PROGRAM_HEADER_SIZE = 56;
// loop: mov eax, 34 (pause); syscall; jmp loop
const X86_64_CODE = Buffer.from([0xb8, 0x22, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xeb, 0xf7]);

/** The canary program for an engine's architecture (`docker info` Architecture), or undefined where there is none. */
export function canaryProgram(architecture: string): Buffer | undefined {
  if (architecture !== 'x86_64' && architecture !== 'amd64') return undefined;
  const size = ELF_HEADER_SIZE + PROGRAM_HEADER_SIZE + X86_64_CODE.length;
  const elf = Buffer.alloc(size);
  elf.write('\x7fELF', 0, 'latin1');
  elf[4] = 2; // 64-bit
  elf[5] = 1; // little endian
  elf[6] = 1; // ELF version
  elf.writeUInt16LE(2, 16); // ET_EXEC
  elf.writeUInt16LE(0x3e, 18); // EM_X86_64
  elf.writeUInt32LE(1, 20);
  elf.writeBigUInt64LE(LOAD_ADDRESS + BigInt(ELF_HEADER_SIZE + PROGRAM_HEADER_SIZE), 24); // entry
  elf.writeBigUInt64LE(BigInt(ELF_HEADER_SIZE), 32); // program headers
  elf.writeUInt16LE(ELF_HEADER_SIZE, 52);
  elf.writeUInt16LE(PROGRAM_HEADER_SIZE, 54);
  elf.writeUInt16LE(1, 56); // one program header
  const ph = ELF_HEADER_SIZE;
  elf.writeUInt32LE(1, ph); // PT_LOAD
  elf.writeUInt32LE(5, ph + 4); // R+X
  elf.writeBigUInt64LE(0n, ph + 8); // from the file's start
  elf.writeBigUInt64LE(LOAD_ADDRESS, ph + 16);
  elf.writeBigUInt64LE(LOAD_ADDRESS, ph + 24);
  elf.writeBigUInt64LE(BigInt(size), ph + 32);
  elf.writeBigUInt64LE(BigInt(size), ph + 40);
  elf.writeBigUInt64LE(0x1000n, ph + 48);
  X86_64_CODE.copy(elf, ELF_HEADER_SIZE + PROGRAM_HEADER_SIZE);
  return elf;
}

/** The image's only layer, for `docker import`: the program at /canary. */
export function canaryImageArchive(program: Buffer): Buffer {
  return Buffer.concat([
    encodeFileEntry({ name: CANARY_PATH.slice(1), mode: 0o755, uid: 0, gid: 0, mtime: 0 }, program),
    END_OF_ARCHIVE,
  ]);
}
