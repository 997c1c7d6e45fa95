import { createContext, useContext } from "react";
import type { RuntimeConfig } from "../lib/config";
import type { SoundStackApi, Track } from "../lib/endpoints";
import type { Session } from "../lib/session";

export type Played = { trackId: string; title: string; artist: string; msPlayed: number; at: Date };

export type AppServices = {
  config: RuntimeConfig;
  session: Session;
  api: SoundStackApi;
  /** Tracks liked: the newest likes the activity service returned, plus this session's. */
  liked: Set<string>;
  like: (track: Pick<Track, "track_id">) => Promise<void>;
  /** Plays this browser reported that the activity service recorded, newest first. */
  recent: Played[];
  coverUrl: (key: string | null) => string | null;
};

export const Services = createContext<AppServices | null>(null);

export function useServices(): AppServices {
  const value = useContext(Services);
  if (!value) throw new Error("useServices outside <Services.Provider>");
  return value;
}
