// Languages: English and Traditional Chinese, chosen from the browser's preferences and
// switchable; the choice is remembered in this browser.
import i18n from "i18next";
import LanguageDetector from "i18next-browser-languagedetector";
import { initReactI18next } from "react-i18next";
import { en } from "./en";
import { zhTW } from "./zh-TW";

/** The languages offered, with their own names. */
export const LANGUAGES = [
  { code: "en", name: "English" },
  { code: "zh-TW", name: "繁體中文" },
] as const;

// Screen readers and the browser's own text handling follow the page's language.
i18n.on("languageChanged", (code) => {
  document.documentElement.lang = code;
});

void i18n
  .use(LanguageDetector)
  .use(initReactI18next)
  .init({
    resources: { en: { translation: en }, "zh-TW": { translation: zhTW } },
    supportedLngs: ["en", "zh-TW"],
    // Any Chinese preference reads Traditional Chinese; anything else English.
    fallbackLng: (code) => (code?.toLowerCase().startsWith("zh") ? ["zh-TW"] : ["en"]),
    nonExplicitSupportedLngs: false,
    interpolation: { escapeValue: false },
    detection: { order: ["localStorage", "navigator"], caches: ["localStorage"], lookupLocalStorage: "crm.language" },
  });

export default i18n;
