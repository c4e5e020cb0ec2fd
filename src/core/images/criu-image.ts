// Decodes CRIU image files without crit: the framing, mnt_entry and inventory_entry, into domain views.
//
// Layout (criu/image.c, criu/protobuf.c): a 4-byte little-endian head magic (IMG_COMMON or
// IMG_SERVICE; inventory.img has none), the image's own magic, then entries, each a 4-byte
// little-endian size followed by that many bytes of protobuf. Like go-criu, the wire structs
// mirror the .proto files field for field and callers use the domain views built from them.

import { ExtmountError } from '../errors.js';
import { WireReader, WireType, type FieldTag } from './protobuf-wire.js';

// ---------------------------------------------------------------------------------------------
// Magic numbers, from criu/include/magic.h (CRIU 4.1.1).

export const IMG_COMMON_MAGIC = 0x54564319;
export const IMG_SERVICE_MAGIC = 0x55105940;
export const INVENTORY_MAGIC = 0x58313116;
export const MNTS_MAGIC = 0x55563928;

/** Image magic → name as in magic.h without `_MAGIC`; aliases (SHMEM_PAGEMAP, PSIGNAL…) keep the first name. */
export const criuImageMagics: ReadonlyMap<number, string> = new Map([
  [INVENTORY_MAGIC, 'INVENTORY'],
  [0x50273030, 'PSTREE'],
  [0x56213732, 'FDINFO'],
  [0x56084025, 'PAGEMAP'],
  [0x55053847, 'CORE'],
  [0x54432030, 'IDS'],
  [0x54123737, 'VMAS'],
  [0x56513555, 'PIPES'],
  [0x56453709, 'PIPES_DATA'],
  [0x58364939, 'FIFO'],
  [0x59333054, 'FIFO_DATA'],
  [0x55344201, 'SIGACT'],
  [0x54373943, 'UNIXSK'],
  [0x56443851, 'INETSK'],
  [0x60454618, 'PACKETSK'],
  [0x57464056, 'ITIMERS'],
  [0x52603957, 'POSIX_TIMERS'],
  [0x56264026, 'SK_QUEUES'],
  [0x54473203, 'UTSNS'],
  [0x54023547, 'CREDS'],
  [0x53115007, 'IPC_VAR'],
  [0x46283044, 'IPCNS_SHM'],
  [0x55453737, 'IPCNS_MSG'],
  [0x59573019, 'IPCNS_SEM'],
  [0x50363636, 'REG_FILES'],
  [0x59255641, 'EXT_FILES'],
  [0x51403912, 'FS'],
  [0x57492820, 'MM'],
  [0x59133954, 'REMAP_FPATH'],
  [0x52583605, 'GHOST_FILE'],
  [0x51465506, 'TCP_STREAM'],
  [0x44523722, 'EVENTFD_FILE'],
  [0x45023858, 'EVENTPOLL_FILE'],
  [0x44433746, 'EVENTPOLL_TFD'],
  [0x57323820, 'SIGNALFD'],
  [0x48424431, 'INOTIFY_FILE'],
  [0x54562009, 'INOTIFY_WD'],
  [MNTS_MAGIC, 'MNTS'],
  [0x57373951, 'NETDEV'],
  [0x55933752, 'NETNS'],
  [0x59433025, 'TTY_FILES'],
  [0x59453036, 'TTY_INFO'],
  [0x59413026, 'TTY_DATA'],
  [0x54323616, 'FILE_LOCKS'],
  [0x57113925, 'RLIMIT'],
  [0x55096122, 'FANOTIFY_FILE'],
  [0x56506035, 'FANOTIFY_MARK'],
  [0x59255647, 'SIGNAL'],
  [0x58005614, 'NETLINK_SK'],
  [0x61394011, 'NS_FILES'],
  [0x57143751, 'TUNFILE'],
  [0x59383330, 'CGROUP'],
  [0x50493712, 'TIMERFD'],
  [0x61404013, 'CPUINFO'],
  [0x55474906, 'USERNS'],
  [0x64413049, 'SECCOMP'],
  [0x67343323, 'BINFMT_MISC'],
  [0x49353943, 'AUTOFS'],
  [0x56303138, 'FILES'],
  [0x48453499, 'MEMFD_INODE'],
  [0x43114433, 'TIMENS'],
  [0x61157326, 'PIDNS'],
  [0x57506142, 'BPFMAP_FILE'],
  [0x64324033, 'BPFMAP_DATA'],
  [0x59423047, 'APPARMOR'],
  [0x54435556, 'PIDFD'],
  [0x57093306, 'STATS'],
  [0x57004059, 'IRMAP_CACHE'],
]);

/**
 * Kinds whose entries are each followed by raw bytes that are not framed (write_img_buf after
 * pb_write_one in pipes.c, sk-queue.c, ipc_ns.c, files-reg.c…): their entries cannot be walked
 * without decoding every payload, so they are reported as one opaque body.
 */
const kindsWithRawData: ReadonlySet<string> = new Set([
  'PIPES_DATA',
  'FIFO_DATA',
  'SK_QUEUES',
  'TCP_STREAM',
  'GHOST_FILE',
  'BPFMAP_DATA',
  'IPCNS_SHM',
  'IPCNS_MSG',
  'IPCNS_SEM',
]);

/** The `fstype` enum of images/mnt.proto (20–22 are reserved there for NFS). */
export const criuFstypes: ReadonlyMap<number, string> = new Map([
  [0, 'UNSUPPORTED'],
  [1, 'PROC'],
  [2, 'SYSFS'],
  [3, 'DEVTMPFS'],
  [4, 'BINFMT_MISC'],
  [5, 'TMPFS'],
  [6, 'DEVPTS'],
  [7, 'SIMFS'],
  [8, 'PSTORE'],
  [9, 'SECURITYFS'],
  [10, 'FUSECTL'],
  [11, 'DEBUGFS'],
  [12, 'CGROUP'],
  [13, 'AUFS'],
  [14, 'MQUEUE'],
  [15, 'FUSE'],
  [16, 'AUTO'],
  [17, 'OVERLAYFS'],
  [18, 'AUTOFS'],
  [19, 'TRACEFS'],
  [23, 'CGROUP2'],
]);

const lsmTypes: ReadonlyMap<number, string> = new Map([
  [0, 'NO_LSM'],
  [1, 'SELINUX'],
  [2, 'APPARMOR'],
]);
// criu/include/cr_options.h: PRE_DUMP_SPLICE, PRE_DUMP_READ and enum NETWORK_LOCK_METHOD.
const preDumpModes: ReadonlyMap<number, string> = new Map([
  [1, 'SPLICE'],
  [2, 'READ'],
]);
const networkLockMethods: ReadonlyMap<number, string> = new Map([
  [0, 'IPTABLES'],
  [1, 'NFTABLES'],
  [2, 'SKIP'],
]);

export function magicName(magic: number): string | undefined {
  return criuImageMagics.get(magic);
}

export function fstypeName(fstype: number): string {
  return criuFstypes.get(fstype) ?? `FSTYPE_${fstype}`;
}

// ---------------------------------------------------------------------------------------------
// Wire structs: field for field as images/mnt.proto, inventory.proto and core.proto declare them.

export interface MntEntryWire {
  fstype: number;
  mnt_id: number;
  root_dev: number;
  parent_mnt_id: number;
  flags: number;
  root: string;
  mountpoint: string;
  source: string;
  options: string;
  shared_id?: number;
  master_id?: number;
  with_plugin?: boolean;
  ext_mount?: boolean;
  fsname?: string;
  internal_sharing?: boolean;
  deleted?: boolean;
  sb_flags?: number;
  ext_key?: string;
}

export interface TaskKobjIdsWire {
  vm_id: number;
  files_id: number;
  fs_id: number;
  sighand_id: number;
  pid_ns_id?: number;
  net_ns_id?: number;
  ipc_ns_id?: number;
  uts_ns_id?: number;
  mnt_ns_id?: number;
  user_ns_id?: number;
  cgroup_ns_id?: number;
  time_ns_id?: number;
}

export interface InventoryEntryWire {
  img_version: number;
  fdinfo_per_id?: boolean;
  root_ids?: TaskKobjIdsWire;
  ns_per_id?: boolean;
  root_cg_set?: number;
  lsmtype?: number;
  dump_uptime?: number | bigint;
  pre_dump_mode?: number;
  tcp_close?: boolean;
  network_lock_method?: number;
  /** plugins_entry.plugins; present (maybe empty) when CRIU wrote plugins_entry. */
  plugins?: string[];
  dump_criu_run_id?: string;
  allow_uprobes?: boolean;
}

function readUint32Field(reader: WireReader, tag: FieldTag, name: string): number {
  reader.expectWireType(tag, WireType.varint, name);
  return reader.readVarint32();
}

function readBoolField(reader: WireReader, tag: FieldTag, name: string): boolean {
  reader.expectWireType(tag, WireType.varint, name);
  return reader.readBool();
}

function readStringField(reader: WireReader, tag: FieldTag, name: string): string {
  reader.expectWireType(tag, WireType.lengthDelimited, name);
  return reader.readString();
}

/** proto2 `required`: protobuf-c refuses a message without them, and so do we. */
function requireFields<T extends object>(
  reader: WireReader,
  message: string,
  value: Partial<T>,
  names: (keyof T)[],
): T {
  for (const name of names) {
    if (value[name] === undefined) throw reader.fail(`${message} lacks required field ${String(name)}`);
  }
  return value as T;
}

export function decodeMntEntryWire(reader: WireReader): MntEntryWire {
  const entry: Partial<MntEntryWire> = {};
  while (!reader.atEnd()) {
    const tag = reader.readTag();
    switch (tag.fieldNumber) {
      case 1:
        entry.fstype = readUint32Field(reader, tag, 'fstype');
        break;
      case 2:
        entry.mnt_id = readUint32Field(reader, tag, 'mnt_id');
        break;
      case 3:
        entry.root_dev = readUint32Field(reader, tag, 'root_dev');
        break;
      case 4:
        entry.parent_mnt_id = readUint32Field(reader, tag, 'parent_mnt_id');
        break;
      case 5:
        entry.flags = readUint32Field(reader, tag, 'flags');
        break;
      case 6:
        entry.root = readStringField(reader, tag, 'root');
        break;
      case 7:
        entry.mountpoint = readStringField(reader, tag, 'mountpoint');
        break;
      case 8:
        entry.source = readStringField(reader, tag, 'source');
        break;
      case 9:
        entry.options = readStringField(reader, tag, 'options');
        break;
      case 10:
        entry.shared_id = readUint32Field(reader, tag, 'shared_id');
        break;
      case 11:
        entry.master_id = readUint32Field(reader, tag, 'master_id');
        break;
      case 12:
        entry.with_plugin = readBoolField(reader, tag, 'with_plugin');
        break;
      case 13:
        entry.ext_mount = readBoolField(reader, tag, 'ext_mount');
        break;
      case 14:
        entry.fsname = readStringField(reader, tag, 'fsname');
        break;
      case 15:
        entry.internal_sharing = readBoolField(reader, tag, 'internal_sharing');
        break;
      case 16:
        entry.deleted = readBoolField(reader, tag, 'deleted');
        break;
      case 17:
        entry.sb_flags = readUint32Field(reader, tag, 'sb_flags');
        break;
      case 18:
        entry.ext_key = readStringField(reader, tag, 'ext_key');
        break;
      default:
        reader.skipField(tag);
    }
  }
  return requireFields<MntEntryWire>(reader, 'mnt_entry', entry, [
    'fstype',
    'mnt_id',
    'root_dev',
    'parent_mnt_id',
    'flags',
    'root',
    'mountpoint',
    'source',
    'options',
  ]);
}

const taskKobjIdFields = [
  undefined,
  'vm_id',
  'files_id',
  'fs_id',
  'sighand_id',
  'pid_ns_id',
  'net_ns_id',
  'ipc_ns_id',
  'uts_ns_id',
  'mnt_ns_id',
  'user_ns_id',
  'cgroup_ns_id',
  'time_ns_id',
] as const;

export function decodeTaskKobjIdsWire(reader: WireReader): TaskKobjIdsWire {
  const ids: Partial<TaskKobjIdsWire> = {};
  while (!reader.atEnd()) {
    const tag = reader.readTag();
    const name = taskKobjIdFields[tag.fieldNumber];
    if (name === undefined) reader.skipField(tag);
    else ids[name] = readUint32Field(reader, tag, name);
  }
  return requireFields<TaskKobjIdsWire>(reader, 'task_kobj_ids_entry', ids, [
    'vm_id',
    'files_id',
    'fs_id',
    'sighand_id',
  ]);
}

function decodePluginsWire(reader: WireReader): string[] {
  const plugins: string[] = [];
  while (!reader.atEnd()) {
    const tag = reader.readTag();
    if (tag.fieldNumber === 12) plugins.push(readStringField(reader, tag, 'plugins'));
    else reader.skipField(tag);
  }
  return plugins;
}

export function decodeInventoryEntryWire(reader: WireReader): InventoryEntryWire {
  const entry: Partial<InventoryEntryWire> = {};
  while (!reader.atEnd()) {
    const tag = reader.readTag();
    switch (tag.fieldNumber) {
      case 1:
        entry.img_version = readUint32Field(reader, tag, 'img_version');
        break;
      case 2:
        entry.fdinfo_per_id = readBoolField(reader, tag, 'fdinfo_per_id');
        break;
      case 3:
        reader.expectWireType(tag, WireType.lengthDelimited, 'root_ids');
        entry.root_ids = decodeTaskKobjIdsWire(reader.readMessage());
        break;
      case 4:
        entry.ns_per_id = readBoolField(reader, tag, 'ns_per_id');
        break;
      case 5:
        entry.root_cg_set = readUint32Field(reader, tag, 'root_cg_set');
        break;
      case 6:
        entry.lsmtype = readUint32Field(reader, tag, 'lsmtype');
        break;
      case 8:
        reader.expectWireType(tag, WireType.varint, 'dump_uptime');
        entry.dump_uptime = reader.readUint64();
        break;
      case 9:
        entry.pre_dump_mode = readUint32Field(reader, tag, 'pre_dump_mode');
        break;
      case 10:
        entry.tcp_close = readBoolField(reader, tag, 'tcp_close');
        break;
      case 11:
        entry.network_lock_method = readUint32Field(reader, tag, 'network_lock_method');
        break;
      case 12:
        reader.expectWireType(tag, WireType.lengthDelimited, 'plugins_entry');
        // A message field seen twice merges: repeated plugins accumulate.
        entry.plugins = [...(entry.plugins ?? []), ...decodePluginsWire(reader.readMessage())];
        break;
      case 13:
        entry.dump_criu_run_id = readStringField(reader, tag, 'dump_criu_run_id');
        break;
      case 14:
        entry.allow_uprobes = readBoolField(reader, tag, 'allow_uprobes');
        break;
      default:
        reader.skipField(tag);
    }
  }
  return requireFields<InventoryEntryWire>(reader, 'inventory_entry', entry, ['img_version']);
}

// ---------------------------------------------------------------------------------------------
// Domain views: what callers use. Absent optional values are null, so JSON keeps every key.

export interface MountEntry {
  mountId: number;
  parentId: number;
  /** Absolute inside the dumped mount namespace (`/bar`); CRIU records it relative (`./bar`). */
  mountpoint: string;
  /** The path inside the mounted filesystem that is mounted here (mountinfo's field 4). */
  root: string;
  /** The name in mnt.proto's fstype enum (`TMPFS`, `UNSUPPORTED`…), or `FSTYPE_<n>`. */
  fstype: string;
  fstypeCode: number;
  /** The real filesystem name, recorded only for fstype AUTO. */
  fsname: string | null;
  source: string;
  options: string;
  /** `major:minor` of the filesystem (CRIU stores the kernel's 12:20-bit encoding). */
  rootDev: string;
  flags: number;
  sbFlags: number | null;
  /** Peer group; null when the mount is not shared (CRIU writes 0). */
  sharedId: number | null;
  masterId: number | null;
  /** The key of an external mount (`--external mnt[PATH]:KEY`); null for internal ones. */
  externalKey: string | null;
  withPlugin: boolean;
  internalSharing: boolean;
  deleted: boolean;
}

export interface TaskKobjIds {
  vmId: number;
  filesId: number;
  fsId: number;
  sighandId: number;
  pidNsId: number | null;
  netNsId: number | null;
  ipcNsId: number | null;
  utsNsId: number | null;
  mntNsId: number | null;
  userNsId: number | null;
  cgroupNsId: number | null;
  timeNsId: number | null;
}

export interface InventoryEntry {
  imgVersion: number;
  fdinfoPerId: boolean;
  rootIds: TaskKobjIds | null;
  nsPerId: boolean;
  rootCgSet: number | null;
  /** `NO_LSM`, `SELINUX`, `APPARMOR`, or `LSM_<n>`. */
  lsm: string | null;
  /** Boot-relative time of the dump in CRIU's units; a bigint only beyond 2^53. */
  dumpUptime: number | bigint | null;
  /** `SPLICE` or `READ` (pre-dump only). */
  preDumpMode: string | null;
  tcpClose: boolean;
  /** `IPTABLES`, `NFTABLES` or `SKIP`; null in images older than the field (IPTABLES then). */
  networkLockMethod: string | null;
  plugins: string[] | null;
  dumpCriuRunId: string | null;
  allowUprobes: boolean;
}

const kdevMinorBits = 20; // criu/include/util.h KDEV_MINORBITS

export function toMountEntry(wire: MntEntryWire): MountEntry {
  // CRIU before ext_key stored the key in root and set ext_mount (criu/mount.c, "me->ext_key = me->root").
  const externalKey = wire.ext_key ?? (wire.ext_mount ? wire.root : null);
  return {
    mountId: wire.mnt_id,
    parentId: wire.parent_mnt_id,
    mountpoint: absoluteMountpoint(wire.mountpoint),
    root: wire.root,
    fstype: fstypeName(wire.fstype),
    fstypeCode: wire.fstype,
    fsname: wire.fsname ?? null,
    source: wire.source,
    options: wire.options,
    rootDev: `${wire.root_dev >>> kdevMinorBits}:${wire.root_dev & ((1 << kdevMinorBits) - 1)}`,
    flags: wire.flags,
    sbFlags: wire.sb_flags ?? null,
    sharedId: wire.shared_id ? wire.shared_id : null,
    masterId: wire.master_id ? wire.master_id : null,
    externalKey,
    withPlugin: wire.with_plugin ?? false,
    internalSharing: wire.internal_sharing ?? false,
    deleted: wire.deleted ?? false,
  };
}

function absoluteMountpoint(recorded: string): string {
  if (recorded === '.' || recorded === './') return '/';
  if (recorded.startsWith('./')) return recorded.slice(1);
  return recorded;
}

function toTaskKobjIds(wire: TaskKobjIdsWire): TaskKobjIds {
  return {
    vmId: wire.vm_id,
    filesId: wire.files_id,
    fsId: wire.fs_id,
    sighandId: wire.sighand_id,
    pidNsId: wire.pid_ns_id ?? null,
    netNsId: wire.net_ns_id ?? null,
    ipcNsId: wire.ipc_ns_id ?? null,
    utsNsId: wire.uts_ns_id ?? null,
    mntNsId: wire.mnt_ns_id ?? null,
    userNsId: wire.user_ns_id ?? null,
    cgroupNsId: wire.cgroup_ns_id ?? null,
    timeNsId: wire.time_ns_id ?? null,
  };
}

function enumName(names: ReadonlyMap<number, string>, prefix: string, value: number | undefined): string | null {
  if (value === undefined) return null;
  return names.get(value) ?? `${prefix}_${value}`;
}

export function toInventoryEntry(wire: InventoryEntryWire): InventoryEntry {
  return {
    imgVersion: wire.img_version,
    fdinfoPerId: wire.fdinfo_per_id ?? false,
    rootIds: wire.root_ids ? toTaskKobjIds(wire.root_ids) : null,
    nsPerId: wire.ns_per_id ?? false,
    rootCgSet: wire.root_cg_set ?? null,
    lsm: enumName(lsmTypes, 'LSM', wire.lsmtype),
    dumpUptime: wire.dump_uptime ?? null,
    preDumpMode: enumName(preDumpModes, 'PRE_DUMP', wire.pre_dump_mode),
    tcpClose: wire.tcp_close ?? false,
    networkLockMethod: enumName(networkLockMethods, 'NETWORK_LOCK', wire.network_lock_method),
    plugins: wire.plugins ?? null,
    dumpCriuRunId: wire.dump_criu_run_id ?? null,
    allowUprobes: wire.allow_uprobes ?? false,
  };
}

// ---------------------------------------------------------------------------------------------
// Framing.

export interface ImageMagic {
  /** Name as in magic.h without `_MAGIC` (`MNTS`, `INVENTORY`…). */
  name: string;
  value: number;
  /** The head magic before it: IMG_COMMON, IMG_SERVICE, or none (inventory, pre-1.1 images). */
  head: 'common' | 'service' | 'none';
}

/** Where an entry sits in the file: its 4-byte size field's offset and the payload's size. */
export interface EntryFrame {
  offset: number;
  size: number;
}

interface ImageBase {
  file: string;
  magic: ImageMagic;
}

export interface MountpointsImage extends ImageBase {
  kind: 'mountpoints';
  entries: MountEntry[];
}

export interface InventoryImage extends ImageBase {
  kind: 'inventory';
  entries: InventoryEntry[];
}

/** An image whose payloads are not decoded: only the frames of its entries. */
export interface OtherImage extends ImageBase {
  kind: 'other';
  entries: EntryFrame[];
  /** Bytes after the magic left unframed because the kind carries raw data between entries. */
  unframedBytes: number;
}

export type CriuImage = MountpointsImage | InventoryImage | OtherImage;

const entrySizeBytes = 4;

const notAnImageHint = 'give a file written by criu dump (inventory.img, mountpoints-*.img…)';
const corruptImageHint = 'the image is truncated or corrupt; dump again';

function parseError(file: string, message: string, offset: number, hint = corruptImageHint): ExtmountError {
  return new ExtmountError('parse', `${file}: ${message} (at byte offset ${offset})`, { hint });
}

function readMagic(bytes: Uint8Array, file: string): { magic: ImageMagic; bodyOffset: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4) throw parseError(file, `too short for a CRIU image (${bytes.length} bytes)`, 0, notAnImageHint);
  const first = view.getUint32(0, true);
  if (first === IMG_COMMON_MAGIC || first === IMG_SERVICE_MAGIC) {
    if (bytes.length < 8) throw parseError(file, 'truncated after the head magic', 4);
    const value = view.getUint32(4, true);
    const name = magicName(value);
    if (name === undefined) throw parseError(file, `unknown image magic 0x${hex(value)}`, 4, notAnImageHint);
    return { magic: { name, value, head: first === IMG_COMMON_MAGIC ? 'common' : 'service' }, bodyOffset: 8 };
  }
  const name = magicName(first);
  if (name === undefined) {
    throw parseError(
      file,
      `bad magic 0x${hex(first)}: not a CRIU image (raw images such as pages-*.img have none)`,
      0,
      notAnImageHint,
    );
  }
  return { magic: { name, value: first, head: 'none' }, bodyOffset: 4 };
}

function hex(value: number): string {
  return value.toString(16).padStart(8, '0');
}

/** Walks the size-prefixed entries after the magic, calling `visit` with each payload. */
function forEachEntry(
  bytes: Uint8Array,
  bodyOffset: number,
  file: string,
  visit: (payload: Uint8Array, frame: EntryFrame, index: number) => void,
): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = bodyOffset;
  // Each iteration consumes at least the 4-byte size field, so the loop ends.
  for (let index = 0; offset < bytes.length; index++) {
    const left = bytes.length - offset;
    if (left < entrySizeBytes) {
      throw parseError(file, `entry ${index}: truncated size field (${left} of 4 bytes)`, offset);
    }
    const size = view.getUint32(offset, true);
    const payloadOffset = offset + entrySizeBytes;
    const available = bytes.length - payloadOffset;
    if (size > available) {
      throw parseError(file, `entry ${index}: declares ${size} bytes but only ${available} remain`, offset);
    }
    visit(bytes.subarray(payloadOffset, payloadOffset + size), { offset, size }, index);
    offset = payloadOffset + size;
  }
}

/** Decodes one CRIU image file. Throws ExtmountError('parse') naming the file, entry and offset. */
export function decodeCriuImage(bytes: Uint8Array, fileName = 'image'): CriuImage {
  const { magic, bodyOffset } = readMagic(bytes, fileName);
  const payloadReader = (payload: Uint8Array, frame: EntryFrame, index: number): WireReader =>
    new WireReader(payload, {
      baseOffset: frame.offset + entrySizeBytes,
      describe: `${fileName}: entry ${index}`,
      hint: corruptImageHint,
    });

  if (magic.value === MNTS_MAGIC) {
    const entries: MountEntry[] = [];
    forEachEntry(bytes, bodyOffset, fileName, (payload, frame, index) => {
      entries.push(toMountEntry(decodeMntEntryWire(payloadReader(payload, frame, index))));
    });
    return { kind: 'mountpoints', file: fileName, magic, entries };
  }
  if (magic.value === INVENTORY_MAGIC) {
    const entries: InventoryEntry[] = [];
    forEachEntry(bytes, bodyOffset, fileName, (payload, frame, index) => {
      entries.push(toInventoryEntry(decodeInventoryEntryWire(payloadReader(payload, frame, index))));
    });
    return { kind: 'inventory', file: fileName, magic, entries };
  }
  if (kindsWithRawData.has(magic.name)) {
    return { kind: 'other', file: fileName, magic, entries: [], unframedBytes: bytes.length - bodyOffset };
  }
  const frames: EntryFrame[] = [];
  forEachEntry(bytes, bodyOffset, fileName, (_payload, frame) => frames.push(frame));
  return { kind: 'other', file: fileName, magic, entries: frames, unframedBytes: 0 };
}
