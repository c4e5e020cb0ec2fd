// What extmount needs to know of a container's configuration, independent of the engine's API.

export interface ContainerMount {
  /** Docker Mounts[].Type: bind, volume, tmpfs, … */
  type: string;
  /** Host path (for a volume: its _data folder). */
  source: string;
  destination: string;
  /** Named volumes only. */
  volumeName?: string;
  readOnly: boolean;
  /** e.g. rprivate, rslave; empty when the engine does not say. */
  propagation: string;
}

export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  /** Host pid of the container's init; 0 when it is not running. */
  pid: number;
  running: boolean;
  runtime: string;
  mounts: ContainerMount[];
  /** Host paths of files the runtime writes and binds itself (/etc/hosts, resolv.conf, hostname). */
  runtimeFiles: string[];
}
