// The sync messages (proto/sync.proto) as strict domain types, a total decoder for
// authenticated payloads, and the sizes the sender packs records by.
import { decodeMessage, encodeMessage, loadMessageType, safeInteger, type Decoded } from '../cluster/index.js';
import type { SyncKind } from './table.js';

const SyncMessageType = loadMessageType('sync.proto', 'tandem.sync.v1.SyncMessage');

/** Wire order of TableKind: TABLE_KIND_CONNTRACK = 1, TABLE_KIND_IPVS = 2. */
export const syncKinds = ['conntrack', 'ipvs'] as const satisfies readonly SyncKind[];

export interface WireRecord {
  remove: boolean;
  entry: Uint8Array;
}

export interface DataBody {
  type: 'data';
  epoch: number;
  seq: number;
  records: WireRecord[];
  resyncBegin: boolean;
  resyncEnd: boolean;
}

/** What the active node sends. */
export type StreamBody = DataBody | { type: 'alive'; epoch: number; lastSeq: number };

/** What the backup answers. */
export type FeedbackBody =
  | { type: 'ack'; epoch: number; upTo: number }
  | { type: 'nack'; epoch: number; from: number; to: number }
  | { type: 'resync'; epoch: number };

export type SyncBody = StreamBody | FeedbackBody;

export interface SyncMessage {
  kind: SyncKind;
  body: SyncBody;
}

/** Room for a Data message's own fields and the SyncMessage around it (at most 25 bytes). */
const dataOverhead = 32;

function varintLength(value: number): number {
  let length = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 0x80);
    length += 1;
  }
  return length;
}

/** Bytes a record adds to a Data message: the field's tag and length, then the Record. */
export function recordWireLength(record: WireRecord): number {
  const inner = (record.remove ? 2 : 0) + 1 + varintLength(record.entry.length) + record.entry.length;
  return 1 + varintLength(inner) + inner;
}

/** Bytes of records a Data message may carry in a payload of `payloadLength`. */
export function recordBudget(payloadLength: number): number {
  return payloadLength - dataOverhead;
}

export function encodeSyncMessage({ kind, body }: SyncMessage): Uint8Array {
  const table = syncKinds.indexOf(kind) + 1;
  switch (body.type) {
    case 'data':
      return encodeMessage(SyncMessageType, {
        table,
        data: {
          epoch: body.epoch,
          seq: body.seq,
          // protobufjs writes a field that is present even when it holds the default: leave false out.
          records: body.records.map(({ remove, entry }) => (remove ? { remove, entry } : { entry })),
          ...(body.resyncBegin && { resyncBegin: true }),
          ...(body.resyncEnd && { resyncEnd: true }),
        },
      });
    case 'alive':
      return encodeMessage(SyncMessageType, { table, alive: { epoch: body.epoch, lastSeq: body.lastSeq } });
    case 'ack':
      return encodeMessage(SyncMessageType, { table, ack: { epoch: body.epoch, upTo: body.upTo } });
    case 'nack':
      return encodeMessage(SyncMessageType, { table, nack: { epoch: body.epoch, from: body.from, to: body.to } });
    case 'resync':
      return encodeMessage(SyncMessageType, { table, resync: { epoch: body.epoch } });
  }
}

type Fields = Record<string, unknown>;

const isFields = (value: unknown): value is Fields => value !== null && typeof value === 'object';

/** Turns an authenticated payload into a SyncMessage, or says what is wrong with it. */
export function decodeSyncMessage(payload: Uint8Array): Decoded<SyncMessage> {
  const decoded = decodeMessage(SyncMessageType, payload);
  if (!decoded) return { ok: false, error: 'sync message does not decode' };
  const kind = syncKinds[(safeInteger(decoded.table) ?? 0) - 1];
  if (!kind) return { ok: false, error: `unknown table kind ${String(decoded.table)}` };
  const body = decodeBody(decoded);
  return typeof body === 'string' ? { ok: false, error: body } : { ok: true, value: { kind, body } };
}

function decodeBody(message: Fields): SyncBody | string {
  const { data, alive, ack, nack, resync } = message;
  const numbers = (fields: Fields, names: string[]): number[] | undefined => {
    const values = names.map((name) => safeInteger(fields[name] ?? 0));
    return values.every((value) => value !== undefined) ? values : undefined;
  };
  if (isFields(data)) {
    const [epoch, seq] = numbers(data, ['epoch', 'seq']) ?? [];
    if (epoch === undefined || seq === undefined || seq === 0) return 'data without a valid sequence number';
    const records: WireRecord[] = [];
    for (const record of Array.isArray(data.records) ? (data.records as unknown[]) : []) {
      if (!isFields(record)) return 'malformed record';
      const entry = record.entry ?? new Uint8Array();
      if (!(entry instanceof Uint8Array)) return 'malformed record';
      records.push({ remove: record.remove === true, entry });
    }
    return { type: 'data', epoch, seq, records, resyncBegin: data.resyncBegin === true, resyncEnd: data.resyncEnd === true };
  }
  if (isFields(alive)) {
    const [epoch, lastSeq] = numbers(alive, ['epoch', 'lastSeq']) ?? [];
    return epoch === undefined || lastSeq === undefined ? 'alive with invalid numbers' : { type: 'alive', epoch, lastSeq };
  }
  if (isFields(ack)) {
    const [epoch, upTo] = numbers(ack, ['epoch', 'upTo']) ?? [];
    return epoch === undefined || upTo === undefined ? 'ack with invalid numbers' : { type: 'ack', epoch, upTo };
  }
  if (isFields(nack)) {
    const [epoch, from, to] = numbers(nack, ['epoch', 'from', 'to']) ?? [];
    if (epoch === undefined || from === undefined || to === undefined || from === 0 || from > to) return 'nack with an invalid range';
    return { type: 'nack', epoch, from, to };
  }
  if (isFields(resync)) {
    const [epoch] = numbers(resync, ['epoch']) ?? [];
    return epoch === undefined ? 'resync with an invalid epoch' : { type: 'resync', epoch };
  }
  return 'sync message without a body';
}
