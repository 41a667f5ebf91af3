CREATE TABLE `changes` (
	`app` text NOT NULL,
	`conversation_id` text NOT NULL,
	`seq` integer NOT NULL,
	`target` integer NOT NULL,
	`kind` text NOT NULL,
	`user_id` text,
	`at` text NOT NULL,
	`data` text DEFAULT '{}' NOT NULL,
	PRIMARY KEY(`app`, `conversation_id`, `seq`)
);
--> statement-breakpoint
CREATE INDEX `changes_by_target` ON `changes` (`app`,`conversation_id`,`target`);--> statement-breakpoint
ALTER TABLE `conversations` ADD `message_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `messages` ADD `edited_at` text;--> statement-breakpoint
ALTER TABLE `messages` ADD `deleted` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `messages` ADD `reactions` text DEFAULT '{}' NOT NULL;--> statement-breakpoint
ALTER TABLE `messages` ADD `reply_to` integer;--> statement-breakpoint
ALTER TABLE `messages` ADD `reply_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `messages_replies` ON `messages` (`app`,`conversation_id`,`reply_to`,`seq`);--> statement-breakpoint
-- Existing conversations count their messages once; from now on the triggers keep the count.
UPDATE `conversations` SET `message_count` = (
  SELECT count(*) FROM `messages` m WHERE m.`app` = `conversations`.`app` AND m.`conversation_id` = `conversations`.`id`
);--> statement-breakpoint
-- A message advances lastSeq, the activity time (the thread list's order) and the message count.
DROP TRIGGER IF EXISTS `messages_advance_conversation`;--> statement-breakpoint
CREATE TRIGGER `messages_advance_conversation` AFTER INSERT ON `messages`
BEGIN
  UPDATE `conversations`
  SET `last_seq` = max(`last_seq`, NEW.`seq`), `last_activity_at` = NEW.`created_at`,
      `message_count` = `message_count` + 1
  WHERE `app` = NEW.`app` AND `id` = NEW.`conversation_id`;
END;--> statement-breakpoint
-- A change advances lastSeq only: an edit or a reaction does not move a thread to the top.
CREATE TRIGGER `changes_advance_conversation` AFTER INSERT ON `changes`
BEGIN
  UPDATE `conversations`
  SET `last_seq` = max(`last_seq`, NEW.`seq`)
  WHERE `app` = NEW.`app` AND `id` = NEW.`conversation_id`;
END;
