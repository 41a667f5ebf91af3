/**
 * Profiles in `<parley-chat>` (issue 15), in Chromium against the real relay: names instead of
 * ids in sender labels, typing, "Seen by", presence and the thread list; pictures as avatars
 * from a real image server on loopback, and initials where there is no picture or it fails to
 * load; a name changed by the back end shows after the next answer that names the user.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { send, uid, useServer } from "../helpers/world.ts";
import { violations } from "./axe.ts";
import { haveChromium, sendText, until, untilShown, useBrowser } from "./browser.ts";

/** A face: a coloured disc (served as SVG, as a back end's image host would). */
const FACE = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="#c2410c"/><circle cx="32" cy="26" r="12" fill="#fde68a"/><rect x="14" y="42" width="36" height="22" rx="11" fill="#fde68a"/></svg>`;

describe.skipIf(!haveChromium)("<parley-chat> shows profiles", () => {
  const w = useServer();
  const b = useBrowser(() => w.server.url);
  let images: Server;
  let imageUrl = "";
  const requested: string[] = [];

  beforeAll(async () => {
    images = createServer((req, res) => {
      requested.push(req.url ?? "");
      if (req.url === "/sam.svg") {
        res.writeHead(200, { "Content-Type": "image/svg+xml", "Cache-Control": "no-store" });
        res.end(FACE);
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => images.listen(0, "127.0.0.1", resolve));
    imageUrl = `http://127.0.0.1:${(images.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    images?.closeAllConnections();
    await new Promise((resolve) => images?.close(resolve));
  });

  const setProfile = async (user: string, profile: { name?: string | null; picture?: string | null }) => {
    const res = await w.admin.put(`/v1/users/${user}/profile`, profile);
    expect(res.status, res.text).toBe(200);
  };

  /** The avatars of the message rows from `senderId`'s name: [initials, picture loaded?]. */
  const faces = (page: Page, selector: string) =>
    page.locator(selector).evaluateAll((els) =>
      els.map((el) => {
        const img = el.querySelector("img");
        return { text: el.textContent, img: img ? img.complete && img.naturalWidth > 0 : null };
      }),
    );

  it("names replace ids everywhere; pictures show, initials stand in; a renamed user is renamed", async () => {
    const [sam, ana, bo] = [uid("sam"), uid("ana"), uid("bo")];
    await setProfile(sam, { name: "Sam Rivera", picture: `${imageUrl}/sam.svg` });
    await setProfile(ana, { name: "Ana Lima" });
    await setProfile(bo, { name: "Bo Broken", picture: `${imageUrl}/missing.png` });
    // No title: the thread is named after the other person, with their face.
    const direct = await w.conversation([sam, ana], { title: "" });
    const group = await w.conversation([sam, ana, bo], { title: "Design review" });
    await send(await w.as(bo), group, "g1", "the mock-ups are up");
    await send(await w.as(sam), direct, "d1", "morning!");

    const pa = await b.open(ana, direct);
    const ps = await b.open(sam, direct);
    await untilShown(pa, ["morning!"], 10_000, "ana");
    // Sender label and avatar of Sam's message on Ana's side.
    await pa.locator("parley-chat li.msg.theirs .sender", { hasText: "Sam Rivera" }).waitFor();
    await until("Sam's picture loaded", async () => {
      const seen = await faces(pa, "parley-chat li.msg.theirs .avatar");
      return { ok: seen.length === 1 && seen[0]?.img === true, seen };
    });
    // The thread list: the direct thread has Sam's name and face; the group its title and initials.
    const directRow = pa.locator(`parley-chat button.thread[data-id="${direct}"]`);
    await directRow.locator(".ttitle", { hasText: "Sam Rivera" }).waitFor();
    await until("thread face", async () => {
      const seen = await faces(pa, `parley-chat button.thread[data-id="${direct}"] .avatar`);
      return { ok: seen[0]?.img === true, seen };
    });
    const groupRow = pa.locator(`parley-chat button.thread[data-id="${group}"]`);
    expect(await groupRow.locator(".tpreview").textContent()).toBe("Bo Broken: the mock-ups are up");
    expect(await groupRow.locator(".avatar").textContent()).toBe("DR");
    expect(await pa.locator("parley-chat header h2").textContent()).toBe("Sam Rivera");

    // Typing and "Seen by" name people.
    await ps.locator("parley-chat textarea").pressSequentially("Hi", { delay: 10 });
    await pa.locator("parley-chat .typing", { hasText: "Sam Rivera is typing…" }).waitFor();
    await ps.locator("parley-chat textarea").press("Enter");
    await untilShown(pa, ["morning!", "Hi"], 10_000, "ana");
    await sendText(pa, "hello Sam");
    await untilShown(ps, ["morning!", "Hi", "hello Sam"], 10_000, "sam");
    await ps.locator("parley-chat li.msg.mine .seen", { hasText: "Seen by Ana Lima" }).waitFor();
    // Ana has no picture: her initials, and no image asked for.
    expect(await faces(ps, "parley-chat li.msg.theirs .avatar")).toEqual([{ text: "AL", img: null }]);
    expect(await ps.locator("parley-chat li.msg .sender").allTextContents()).not.toContain(ana);
    await Promise.all([b.shot(pa, "profiles-ana"), b.shot(ps, "profiles-sam")]);
    expect(await violations(pa), "names and pictures").toEqual([]);

    // Bo's picture fails to load: his initials stay, the broken image is removed.
    await groupRow.click();
    await untilShown(pa, ["the mock-ups are up"], 10_000, "ana in the group");
    await until("Bo's initials", async () => {
      const seen = await faces(pa, "parley-chat li.msg.theirs .avatar");
      return { ok: seen.length === 1 && seen[0]?.text === "BB" && seen[0]?.img === null, seen };
    });
    expect(requested).toContain("/missing.png");
    await pa.locator("parley-chat li.msg.theirs .sender", { hasText: "Bo Broken" }).waitFor();
    await b.shot(pa, "profiles-initials");
    expect(await violations(pa), "initials after a failed picture").toEqual([]);

    // The back end renames Sam: the next answer that names him (the conversation, on the next
    // sync) brings the new name to Ana's open page.
    await setProfile(sam, { name: "Samuel R." });
    await pa.locator(`parley-chat button.thread[data-id="${direct}"]`).click();
    await untilShown(pa, ["morning!", "Hi", "hello Sam"], 10_000, "ana back");
    await pa.locator("parley-chat li.msg.theirs .sender", { hasText: "Samuel R." }).first().waitFor();
    await directRow.locator(".ttitle", { hasText: "Samuel R." }).waitFor();
  });
});
