// What the front ends for other tools' files (lvs.cf, ipvsadm rules, lvs.conf) share:
// recording where each document value came from, and resolving host names the way
// those tools did (gethostbyname: /etc/hosts, then DNS; IPv4 preferred).
import { parseIp } from '../lib/address.js';
import { quote, type DiagnosticSink } from './diagnostics.js';
import type { DocPath, Locator, Place } from './normalise.js';
import type { HostResolver } from './resolve.js';

/** A Locator fed by the front end as it builds the document: places kept in a tree
 *  shaped like the document, so the nearest recorded ancestor is one walk away. */
export class RecordedLocator implements Locator {
  private readonly root: PlaceTree = {};

  record(path: DocPath, place: Place): void {
    let node = this.root;
    for (const part of path) {
      node.children ??= new Map();
      let next = node.children.get(part);
      if (next === undefined) {
        next = {};
        node.children.set(part, next);
      }
      node = next;
    }
    node.place = place;
  }

  value(path: DocPath): Place {
    let node: PlaceTree | undefined = this.root;
    let nearest = this.root.place;
    for (const part of path) {
      node = node.children?.get(part);
      if (node === undefined) break;
      nearest = node.place ?? nearest;
    }
    return nearest ?? { line: 1, column: 1, key: '(file)' };
  }

  key(path: DocPath): Place {
    return this.value(path);
  }
}

interface PlaceTree {
  place?: Place;
  children?: Map<string | number, PlaceTree>;
}

const hostNamePattern = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$/;

/** Resolves address-or-host-name values; lookups run in parallel, `settle` waits. */
export class HostNames {
  private readonly pending: Promise<void>[] = [];

  constructor(
    private readonly resolver: HostResolver,
    private readonly sink: DiagnosticSink,
    /** Told which document part stays unset when a name does not resolve. */
    private readonly builder?: DocumentBuilder,
  ) {}

  /** Calls `assign` with the address (now for literals, later for names); reports at
   *  `place` and marks `path` damaged when there is none. */
  resolve(text: string, place: Place, assign: (address: string) => void, path?: DocPath): void {
    const failed = (message: string, expected: string): void => {
      this.sink.error(place, { key: place.key, message, expected, found: quote(text) });
      if (path !== undefined) this.builder?.damage(path);
    };
    const literal = parseIp(text);
    if (literal !== undefined) {
      assign(literal.address);
      return;
    }
    if (/^[0-9.]+$/.test(text) || !hostNamePattern.test(text)) {
      failed('invalid address', 'an IPv4 or IPv6 address or a host name');
      return;
    }
    const unresolved = (why: string): void =>
      failed(`cannot resolve host name (${why})`, 'an IP address, or a host name in /etc/hosts or DNS');
    this.pending.push(
      this.resolver(text).then(
        (addresses) => {
          const [first] = addresses;
          if (first !== undefined) assign(first);
          else unresolved('no address found');
        },
        (error: unknown) => unresolved((error as Error).message),
      ),
    );
  }

  async settle(): Promise<void> {
    await Promise.all(this.pending);
  }
}

/** Builds a document path by path, remembering where each value came from. */
export class DocumentBuilder {
  readonly document: Record<string, unknown> = {};
  readonly locator = new RecordedLocator();
  /** Parts the source got wrong (already reported): the checks leave them alone, so
   *  one mistake is not reported again as its consequences. */
  readonly damaged: DocPath[] = [];

  damage(path: DocPath): void {
    this.damaged.push(path);
  }

  set(path: DocPath, value: unknown, place?: Place): void {
    let container: Record<string | number, unknown> = this.document;
    path.forEach((part, index) => {
      if (index === path.length - 1) {
        container[part] = value;
        return;
      }
      const next = path[index + 1];
      container[part] ??= typeof next === 'number' ? [] : {};
      container = container[part] as Record<string | number, unknown>;
    });
    if (place !== undefined) this.locator.record(path, place);
  }

  /** Records where a part of the document (a block, a line) is, without a value. */
  mark(path: DocPath, place: Place): void {
    this.locator.record(path, place);
  }
}
