DROP INDEX `messages_replies`;--> statement-breakpoint
CREATE INDEX `messages_replies` ON `messages` (`app`,`conversation_id`,`reply_to`,`seq`) WHERE reply_to IS NOT NULL;