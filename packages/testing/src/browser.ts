import { createServer, type Server } from "node:http";
import { extname } from "node:path";
import type { Browser, Page } from "playwright-core";
import { installServer } from "./repo.js";

/** Debian's chromium: the one browser the tests drive (never a downloaded one). */
export const chromiumPath = "/usr/bin/chromium";
const chromiumArgs = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"];

/** A headless Chromium tab on a page served from a loopback origin of its own. */
export interface BrowserPage extends AsyncDisposable {
  readonly page: Page;
  /** The page's origin, e.g. http://127.0.0.1:41234 (a broker must allow it with --cors-origins). */
  readonly origin: string;
  /** Uncaught errors of the page so far. */
  readonly errors: string[];
  close(): Promise<void>;
}

/** Installs chromium from Debian's packages when it is missing (tools/servers/install.sh). */
export function ensureChromiumInstalled(): void {
  installServer("chromium", "openBrowserPage");
}

const types: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".map": "application/json",
};

/**
 * Serves `files` (URL path -> content; "/" defaults to an empty page) on 127.0.0.1 and opens "/" in a new
 * headless Chromium.
 */
export async function openBrowserPage(files: Record<string, string | Uint8Array>): Promise<BrowserPage> {
  ensureChromiumInstalled();
  const served: Record<string, string | Uint8Array> = {
    "/": '<!doctype html><html><head><meta charset="utf-8"><title>cebus</title></head><body></body></html>',
    ...files,
  };
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0] as string;
    const body = served[path];
    if (body === undefined) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": types[extname(path)] ?? types[".html"] }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const origin = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  let browser: Browser | undefined;
  try {
    // Loaded here, not at the top: playwright-core is an optional peer dependency that only this helper needs.
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(`${origin}/`);
    const opened = browser;
    const close = async () => {
      await opened.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    };
    return { page, origin, errors, close, [Symbol.asyncDispose]: close };
  } catch (error) {
    await browser?.close();
    server.close();
    throw error;
  }
}
