/** The workload models and placements of the scale simulator; see workload.ts for the overview. */
export * from './workload.ts';
export { readTrafficCsv, readPlacementCsv, type TrafficCsv } from './csv.ts';
export { placeRandom, placePacked, placeFromFile, type PlacementRow } from './placement.ts';
export { rackStructure, appLayout, vmNames, type Rack, type RackStructure, type AppLayout } from './layout.ts';
export { onFraction, type OnOffTiming } from './onoff.ts';
export type { PartnerParams, SpreadParams, RandomParams, RateParams, Pair, PairClass } from './models.ts';
export { partnerPairs, spreadPairs } from './models.ts';
export { normal, lognormal, lognormalMean, exponential, poisson, shuffle, streamRng } from './distributions.ts';
