import { useState, type FormEvent } from "react";
import { CognitoSession, LocalSession, type Session } from "../lib/session";
import { describe } from "./hooks";

export function SignIn({ session, error }: { session: Session; error: string | null }) {
  const [problem, setProblem] = useState<string | null>(error);
  const [busy, setBusy] = useState(false);

  if (session instanceof LocalSession) {
    const submit = async (e: FormEvent<HTMLFormElement>) => {
      e.preventDefault();
      const form = new FormData(e.currentTarget);
      setBusy(true);
      setProblem(null);
      try {
        await session.signInAs(String(form.get("user")), String(form.get("name") ?? ""));
      } catch (err) {
        setProblem(describe(err));
        setBusy(false);
      }
    };
    return (
      <main className="signin">
        <h1>SoundStack</h1>
        <p className="muted">Local server: sign in as any user id (it becomes the token's subject).</p>
        <form onSubmit={(e) => void submit(e)}>
          <label>
            User id
            <input name="user" required autoComplete="username" autoFocus pattern="[^\s]{1,128}" />
          </label>
          <label>
            Display name <span className="muted">(optional)</span>
            <input name="name" maxLength={100} />
          </label>
          <button type="submit" disabled={busy}>
            {busy ? "Signing in…" : "Sign in"}
          </button>
        </form>
        {problem && <p role="alert" className="error">{problem}</p>}
      </main>
    );
  }

  const start = async () => {
    setBusy(true);
    try {
      window.location.assign(await (session as CognitoSession).beginSignIn());
    } catch (err) {
      setProblem(describe(err));
      setBusy(false);
    }
  };
  return (
    <main className="signin">
      <h1>SoundStack</h1>
      <p>Sign in with Google, Facebook or your e-mail address.</p>
      <button type="button" onClick={start} disabled={busy}>
        {busy ? "Opening sign-in…" : "Sign in"}
      </button>
      {problem && <p role="alert" className="error">{problem}</p>}
    </main>
  );
}
